/*
 * Just enough JSON to read a plugin's config: Weft hands `init` the processor's `config` table
 * as JSON text. Strings without escapes, numbers, and the punctuation between them.
 */
#ifndef JSON_H
#define JSON_H

#include <stdbool.h>
#include <stddef.h>

/* A cursor over the config text. */
typedef struct json_cursor {
    const char *at;
    const char *end;
} json_cursor;

/* Consumes `expected` (after white space) if it is next. */
bool json_take(json_cursor *c, char expected);
/* Reads a string without escapes into `out` (NUL-terminated, at most `size` bytes). */
bool json_read_string(json_cursor *c, char *out, size_t size);
/* Reads a finite number. */
bool json_read_number(json_cursor *c, double *value);
/* Whether only white space is left. */
bool json_at_end(json_cursor *c);

#endif
