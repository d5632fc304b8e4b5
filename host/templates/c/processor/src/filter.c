#include "filter.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

static void defaults(filter_settings *settings) {
    settings->count = 2;
    strcpy(settings->names[0], "GET /healthz");
    strcpy(settings->names[1], "GET /readyz");
}

bool filter_configure(const char *json, size_t len, filter_settings *settings, char *error,
                      size_t error_size) {
    defaults(settings);
    json_cursor c = {json, json + len};
    if (len == 0)
        return true;
    if (!json_take(&c, '{')) {
        snprintf(error, error_size, "invalid config: expected a table");
        return false;
    }
    bool first = true;
    while (!json_take(&c, '}')) {
        char key[32];
        if ((!first && !json_take(&c, ',')) || !json_read_string(&c, key, sizeof key) ||
            !json_take(&c, ':') || strcmp(key, "drop_names") != 0) {
            snprintf(error, error_size, "invalid config: unknown key; expected `drop_names`");
            return false;
        }
        first = false;
        settings->count = 0;
        if (!json_take(&c, '[')) {
            snprintf(error, error_size, "invalid config at `drop_names`: expected a list of span names");
            return false;
        }
        while (!json_take(&c, ']')) {
            if ((settings->count > 0 && !json_take(&c, ',')) || settings->count == FILTER_MAX_NAMES ||
                !json_read_string(&c, settings->names[settings->count], FILTER_MAX_NAME)) {
                snprintf(error, error_size,
                         "invalid config at `drop_names`: expected at most %d names of at most %d "
                         "bytes, without escapes",
                         FILTER_MAX_NAMES, FILTER_MAX_NAME - 1);
                return false;
            }
            settings->count++;
        }
    }
    if (!json_at_end(&c)) {
        snprintf(error, error_size, "invalid config: text after the table");
        return false;
    }
    return true;
}

bool filter_drops(const filter_settings *settings, const char *name, size_t len) {
    for (size_t i = 0; i < settings->count; i++) {
        if (strlen(settings->names[i]) == len && memcmp(settings->names[i], name, len) == 0)
            return true;
    }
    return false;
}
