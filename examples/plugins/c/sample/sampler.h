/*
 * The sampling rules of the C example processor, apart from the WebAssembly bindings so
 * they can be unit-tested natively (test_sampler.c).
 */
#ifndef WEFT_C_SAMPLER_H
#define WEFT_C_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 2^56: the number of distinct randomness values of a trace id. */
#define SAMPLER_RANDOMNESS_VALUES (UINT64_C(1) << 56)

/* What the processor keeps. */
typedef struct sampler_settings {
    /* Share of traces kept by the baseline rule, 0 to 1 (default 1). */
    double ratio;
    /* Keep every span whose status is ERROR (default true). */
    bool keep_errors;
    /* Keep every span at least this slow, in ms; 0 turns the rule off (default 0). */
    uint64_t slower_than_ms;
    /* The rejection threshold derived from `ratio`: 2^56 - round(ratio * 2^56). */
    uint64_t threshold;
} sampler_settings;

/*
 * Reads the processor's JSON config (`{}` for the defaults) into `settings`. On a problem,
 * writes a readable message into `error` (at most `error_size` bytes) and returns false.
 */
bool sampler_configure(const char *json, size_t len, sampler_settings *settings, char *error,
                       size_t error_size);

/*
 * Whether a span is kept: an error (if kept), a slow span (if set), or a trace whose
 * randomness (the low 56 bits of its id) reaches the threshold, as OpenTelemetry's
 * consistent probability sampling decides, so every span of a trace gets the same verdict
 * here, in the Rust sampler, and in any other instance.
 */
bool sampler_keeps(const sampler_settings *settings, uint64_t trace_id_low, bool is_error,
                   uint64_t duration_ns);

#endif
