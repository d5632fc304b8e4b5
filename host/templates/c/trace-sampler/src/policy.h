/*
 * {{name}}: which traces to keep. Plain C, no WebAssembly specifics, so test_policy.c runs it
 * natively.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct policy_settings {
    uint64_t slower_than_nanos;
} policy_settings;

/* Reads the config's JSON text (`{"slower_than_ms": 1000}`; `{}` for the defaults). On
 * failure writes a message naming the problem into `error`. */
bool policy_configure(const char *json, size_t len, policy_settings *settings, char *error,
                      size_t error_size);

/* Whether to keep a trace, given whether one of its spans failed and when it started and
 * ended; `reason` is set to a short label ("" for none). */
bool policy_keeps(const policy_settings *settings, bool any_error, uint64_t start_unix_nano,
                  uint64_t end_unix_nano, const char **reason);

#endif
