#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void skip_space(json_cursor *c) {
    while (c->at < c->end && (*c->at == ' ' || *c->at == '\t' || *c->at == '\n' || *c->at == '\r'))
        c->at++;
}

bool json_take(json_cursor *c, char expected) {
    skip_space(c);
    if (c->at < c->end && *c->at == expected) {
        c->at++;
        return true;
    }
    return false;
}

bool json_read_string(json_cursor *c, char *out, size_t size) {
    if (!json_take(c, '"'))
        return false;
    size_t n = 0;
    while (c->at < c->end && *c->at != '"') {
        if (*c->at == '\\' || n + 1 >= size)
            return false;
        out[n++] = *c->at++;
    }
    out[n] = '\0';
    return json_take(c, '"');
}

bool json_read_number(json_cursor *c, double *value) {
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

bool json_at_end(json_cursor *c) {
    skip_space(c);
    return c->at == c->end;
}
