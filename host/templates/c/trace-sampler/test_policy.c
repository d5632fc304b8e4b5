/* Unit tests, compiled and run natively by `weft plugin build`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static int failures = 0;
#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                      \
        }                                                                    \
    } while (0)

#define MS 1000000ull

int main(void) {
    policy_settings s;
    char error[256] = "";
    const char *reason;

    /* Failed and slow traces are kept; the rest are dropped. */
    CHECK(policy_configure("{}", 2, &s, error, sizeof error));
    CHECK(policy_keeps(&s, true, 0, 300 * MS, &reason) && strcmp(reason, "error") == 0);
    CHECK(policy_keeps(&s, false, 0, 1500 * MS, &reason) && strcmp(reason, "slow") == 0);
    CHECK(!policy_keeps(&s, false, 0, 20 * MS, &reason) && strcmp(reason, "") == 0);

    /* The threshold comes from the config. */
    const char *config = "{\"slower_than_ms\": 10}";
    CHECK(policy_configure(config, strlen(config), &s, error, sizeof error));
    CHECK(policy_keeps(&s, false, 0, 20 * MS, &reason));

    /* A misspelt key is refused with a message. */
    const char *bad = "{\"slower_than\": 5}";
    CHECK(!policy_configure(bad, strlen(bad), &s, error, sizeof error));
    CHECK(strstr(error, "slower_than_ms") != NULL);

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return EXIT_FAILURE;
    }
    printf("test_policy: ok\n");
    return EXIT_SUCCESS;
}
