#include "policy.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

bool policy_configure(const char *json, size_t len, policy_settings *settings, char *error,
                      size_t error_size) {
    settings->slower_than_nanos = 1000ull * 1000000ull;
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
            !json_take(&c, ':') || strcmp(key, "slower_than_ms") != 0) {
            snprintf(error, error_size, "invalid config: unknown key; expected `slower_than_ms`");
            return false;
        }
        first = false;
        double ms;
        if (!json_read_number(&c, &ms) || ms < 0.0 || ms != floor(ms) || ms > 1e12) {
            snprintf(error, error_size,
                     "invalid config at `slower_than_ms`: expected a whole number of milliseconds");
            return false;
        }
        settings->slower_than_nanos = (uint64_t)ms * 1000000ull;
    }
    if (!json_at_end(&c)) {
        snprintf(error, error_size, "invalid config: text after the table");
        return false;
    }
    return true;
}

bool policy_keeps(const policy_settings *settings, bool any_error, uint64_t start_unix_nano,
                  uint64_t end_unix_nano, const char **reason) {
    uint64_t duration = end_unix_nano > start_unix_nano ? end_unix_nano - start_unix_nano : 0;
    if (any_error) {
        *reason = "error";
        return true;
    }
    if (duration >= settings->slower_than_nanos) {
        *reason = "slow";
        return true;
    }
    *reason = "";
    return false;
}
