/*
 * The sampling rules and their config parser. No allocation, no WebAssembly specifics.
 */
#include "sampler.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A cursor over the config text. */
typedef struct cursor {
    const char *at;
    const char *end;
} cursor;

static void skip_space(cursor *c) {
    while (c->at < c->end && (*c->at == ' ' || *c->at == '\t' || *c->at == '\n' || *c->at == '\r'))
        c->at++;
}

static bool take(cursor *c, char expected) {
    skip_space(c);
    if (c->at < c->end && *c->at == expected) {
        c->at++;
        return true;
    }
    return false;
}

/* A key: a JSON string without escapes (every key this config knows is plain ASCII). */
static bool read_key(cursor *c, char *key, size_t size) {
    if (!take(c, '"'))
        return false;
    size_t n = 0;
    while (c->at < c->end && *c->at != '"') {
        if (*c->at == '\\' || n + 1 >= size)
            return false;
        key[n++] = *c->at++;
    }
    key[n] = '\0';
    return take(c, '"');
}

static bool read_number(cursor *c, double *value) {
    skip_space(c);
    char text[64];
    size_t n = 0;
    while (c->at < c->end && n + 1 < sizeof text && strchr("+-0123456789.eE", *c->at))
        text[n++] = *c->at++;
    text[n] = '\0';
    if (n == 0)
        return false;
    char *rest;
    *value = strtod(text, &rest);
    return *rest == '\0' && isfinite(*value);
}

static bool read_bool(cursor *c, bool *value) {
    skip_space(c);
    size_t left = (size_t)(c->end - c->at);
    if (left >= 4 && memcmp(c->at, "true", 4) == 0) {
        c->at += 4;
        *value = true;
        return true;
    }
    if (left >= 5 && memcmp(c->at, "false", 5) == 0) {
        c->at += 5;
        *value = false;
        return true;
    }
    return false;
}

bool sampler_configure(const char *json, size_t len, sampler_settings *settings, char *error,
                       size_t error_size) {
    settings->ratio = 1.0;
    settings->keep_errors = true;
    settings->slower_than_ms = 0;
    cursor c = {json, json + len};
    if (!take(&c, '{')) {
        snprintf(error, error_size, "invalid config: expected a table");
        return false;
    }
    bool first = true;
    while (!take(&c, '}')) {
        if (!first && !take(&c, ',')) {
            snprintf(error, error_size, "invalid config: expected `,` or the end of the table");
            return false;
        }
        first = false;
        char key[32];
        if (!read_key(&c, key, sizeof key) || !take(&c, ':')) {
            snprintf(error, error_size,
                     "invalid config: unknown key; expected ratio, keep_errors, slower_than_ms");
            return false;
        }
        if (strcmp(key, "ratio") == 0) {
            double ratio;
            if (!read_number(&c, &ratio) || ratio < 0.0 || ratio > 1.0) {
                snprintf(error, error_size,
                         "invalid config at `ratio`: expected a number from 0 to 1");
                return false;
            }
            settings->ratio = ratio;
        } else if (strcmp(key, "keep_errors") == 0) {
            if (!read_bool(&c, &settings->keep_errors)) {
                snprintf(error, error_size,
                         "invalid config at `keep_errors`: expected true or false");
                return false;
            }
        } else if (strcmp(key, "slower_than_ms") == 0) {
            double ms;
            if (!read_number(&c, &ms) || ms < 0.0 || ms != floor(ms) || ms > 1e12) {
                snprintf(error, error_size,
                         "invalid config at `slower_than_ms`: expected a whole number of "
                         "milliseconds, 0 or more");
                return false;
            }
            settings->slower_than_ms = (uint64_t)ms;
        } else {
            snprintf(error, error_size,
                     "invalid config: unknown key `%s`; expected ratio, keep_errors, "
                     "slower_than_ms",
                     key);
            return false;
        }
    }
    skip_space(&c);
    if (c.at != c.end) {
        snprintf(error, error_size, "invalid config: text after the table");
        return false;
    }
    /* 2^56 - round(ratio * 2^56): multiplying by a power of two is exact; round() rounds
     * half away from zero, as the Rust sampler does. */
    settings->threshold =
        SAMPLER_RANDOMNESS_VALUES - (uint64_t)round(settings->ratio * (double)SAMPLER_RANDOMNESS_VALUES);
    return true;
}

bool sampler_keeps(const sampler_settings *settings, uint64_t trace_id_low, bool is_error,
                   uint64_t duration_ns) {
    if (is_error && settings->keep_errors)
        return true;
    if (settings->slower_than_ms > 0 && duration_ns >= settings->slower_than_ms * 1000000u)
        return true;
    uint64_t randomness = trace_id_low & (SAMPLER_RANDOMNESS_VALUES - 1);
    return randomness >= settings->threshold;
}
