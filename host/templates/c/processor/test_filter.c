/* Unit tests, compiled and run natively by `weft plugin build`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"

static int failures = 0;
#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                      \
        }                                                                    \
    } while (0)

static bool drops(const filter_settings *s, const char *name) {
    return filter_drops(s, name, strlen(name));
}

int main(void) {
    filter_settings s;
    char error[256] = "";

    /* Health checks are dropped by default; everything else is kept. */
    CHECK(filter_configure("{}", 2, &s, error, sizeof error));
    CHECK(drops(&s, "GET /healthz"));
    CHECK(drops(&s, "GET /readyz"));
    CHECK(!drops(&s, "GET /cart"));
    CHECK(!drops(&s, "GET /healthz/deep"));

    /* The names come from the config. */
    const char *config = "{\"drop_names\": [\"ping\", \"pong\"]}";
    CHECK(filter_configure(config, strlen(config), &s, error, sizeof error));
    CHECK(drops(&s, "ping") && drops(&s, "pong") && !drops(&s, "GET /healthz"));

    /* A misspelt key is refused with a message. */
    const char *bad = "{\"drop_name\": [\"ping\"]}";
    CHECK(!filter_configure(bad, strlen(bad), &s, error, sizeof error));
    CHECK(strstr(error, "drop_names") != NULL);

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return EXIT_FAILURE;
    }
    printf("test_filter: ok\n");
    return EXIT_SUCCESS;
}
