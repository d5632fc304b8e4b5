/*
 * {{name}}: which spans to drop. Plain C, no WebAssembly specifics, so test_filter.c runs it
 * natively.
 */
#ifndef FILTER_H
#define FILTER_H

#include <stdbool.h>
#include <stddef.h>

#define FILTER_MAX_NAMES 32
#define FILTER_MAX_NAME 128

typedef struct filter_settings {
    size_t count;
    char names[FILTER_MAX_NAMES][FILTER_MAX_NAME];
} filter_settings;

/* Reads the config's JSON text (`{"drop_names": ["GET /healthz", ...]}`; `{}` for the
 * defaults). On failure writes a message naming the problem into `error`. */
bool filter_configure(const char *json, size_t len, filter_settings *settings, char *error,
                      size_t error_size);

/* Whether the span named `name` (`len` bytes, not NUL-terminated) is dropped. */
bool filter_drops(const filter_settings *settings, const char *name, size_t len);

#endif
