/*
 * Unit tests of the sampling rules, run natively: cc -O1 -o test test_sampler.c sampler.c -lm
 */
#include <stdio.h>
#include <string.h>

#include "sampler.h"

static int failures = 0;

#define CHECK(condition)                                                                   \
    do {                                                                                   \
        if (!(condition)) {                                                                \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #condition);        \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

static bool configure(const char *json, sampler_settings *settings, char *error) {
    return sampler_configure(json, strlen(json), settings, error, 256);
}

int main(void) {
    sampler_settings s;
    char error[256];

    /* Defaults keep everything. */
    CHECK(configure("{}", &s, error));
    CHECK(s.ratio == 1.0 && s.keep_errors && s.slower_than_ms == 0 && s.threshold == 0);
    CHECK(sampler_keeps(&s, 0, false, 0));

    /* Every key, with spaces. */
    CHECK(configure(" { \"ratio\": 0.5, \"keep_errors\": false , \"slower_than_ms\": 250 } ", &s,
                    error));
    CHECK(s.ratio == 0.5 && !s.keep_errors && s.slower_than_ms == 250);
    CHECK(s.threshold == (UINT64_C(1) << 55));

    /* The OpenTelemetry rule: kept iff the low 56 bits reach the threshold; the byte above
     * them (bits 56..63) does not count. */
    CHECK(sampler_keeps(&s, UINT64_C(0x00ce929d0e0e4736), false, 0));
    CHECK(!sampler_keeps(&s, UINT64_C(0xff7fffffffffffff), false, 0));
    CHECK(sampler_keeps(&s, UINT64_C(0x0080000000000000), false, 0));

    /* Errors and slow spans are kept whatever their trace id, when the rules say so. */
    CHECK(configure("{\"ratio\": 0, \"slower_than_ms\": 500}", &s, error));
    CHECK(s.threshold == SAMPLER_RANDOMNESS_VALUES);
    CHECK(!sampler_keeps(&s, UINT64_C(0x00ffffffffffffff), false, 0));
    CHECK(sampler_keeps(&s, 0, true, 0));
    CHECK(sampler_keeps(&s, 0, false, 500000000));
    CHECK(!sampler_keeps(&s, 0, false, 499999999));
    CHECK(configure("{\"ratio\": 0, \"keep_errors\": false}", &s, error));
    CHECK(!sampler_keeps(&s, 0, true, 0));

    /* Bad configs say what was wrong and where. */
    CHECK(!configure("{\"ratio\": 1.5}", &s, error) && strstr(error, "`ratio`"));
    CHECK(!configure("{\"ratio\": \"half\"}", &s, error) && strstr(error, "`ratio`"));
    CHECK(!configure("{\"keep_errors\": 1}", &s, error) && strstr(error, "`keep_errors`"));
    CHECK(!configure("{\"slower_than_ms\": -1}", &s, error) && strstr(error, "`slower_than_ms`"));
    CHECK(!configure("{\"colour\": 1}", &s, error) && strstr(error, "unknown key `colour`"));
    CHECK(!configure("[]", &s, error) && strstr(error, "expected a table"));
    CHECK(!configure("{\"ratio\": 1} x", &s, error) && strstr(error, "after the table"));
    CHECK(!configure("{\"ratio\": 1 \"keep_errors\": true}", &s, error));

    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_sampler: all checks passed\n");
    return 0;
}
