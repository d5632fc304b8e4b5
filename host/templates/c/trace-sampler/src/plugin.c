/*
 * {{name}}: a Weft tail-sampling policy in C. The WebAssembly glue around policy.c, against
 * the bindings `weft plugin build` generates from wit/weft.wit for the `trace-sampler` world
 * (trace_sampler.h).
 *
 * Keeps a whole trace when one of its spans failed or when it lasted at least
 * `slower_than_ms`; drops every other trace.
 *
 * Config (the policy's `config` table in weft.toml):
 *   slower_than_ms = 1000
 */
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "trace_sampler.h"

/* Set once by init; an instance serves one policy. */
static policy_settings settings;

bool exports_weft_plugin_trace_policy_init(trace_sampler_string_t *config,
                                           exports_weft_plugin_trace_policy_interest_t *ret,
                                           trace_sampler_string_t *err) {
    char error[256];
    bool ok = policy_configure((const char *)config->ptr, config->len, &settings, error,
                               sizeof error);
    trace_sampler_string_free(config);
    if (!ok) {
        trace_sampler_string_dup(err, error);
        return false;
    }
    /* Names, kinds, times and status are always sent to a policy; no attribute is needed. */
    memset(ret, 0, sizeof *ret);
    ret->span_attributes.tag = WEFT_PLUGIN_COMMON_ATTRIBUTE_SELECTION_NONE;
    ret->event_attributes.tag = WEFT_PLUGIN_COMMON_ATTRIBUTE_SELECTION_NONE;
    ret->link_attributes.tag = WEFT_PLUGIN_COMMON_ATTRIBUTE_SELECTION_NONE;
    ret->resource_attributes.tag = WEFT_PLUGIN_COMMON_ATTRIBUTE_SELECTION_NONE;
    ret->scope_attributes.tag = WEFT_PLUGIN_COMMON_ATTRIBUTE_SELECTION_NONE;
    return true;
}

bool exports_weft_plugin_trace_policy_decide(
    exports_weft_plugin_trace_policy_batch_t *batch,
    exports_weft_plugin_trace_policy_list_range_t *traces, uint64_t now_unix_nano,
    exports_weft_plugin_trace_policy_list_decision_t *ret,
    exports_weft_plugin_trace_policy_processor_error_t *err) {
    (void)now_unix_nano;
    size_t count = traces->len;
    /* One decision per trace; the host frees the list after the call. */
    exports_weft_plugin_trace_policy_decision_t *decisions =
        count ? calloc(count, sizeof *decisions) : NULL;
    if (count && !decisions) {
        exports_weft_plugin_trace_policy_batch_free(batch);
        exports_weft_plugin_trace_policy_list_range_free(traces);
        trace_sampler_string_dup(&err->message, "out of memory for the decisions");
        return false;
    }
    for (size_t t = 0; t < count; t++) {
        const weft_plugin_traces_range_t *range = &traces->ptr[t];
        bool any_error = false;
        uint64_t start = UINT64_MAX, end = 0;
        for (uint32_t i = range->start; i < range->start + range->len; i++) {
            const weft_plugin_traces_span_t *span = &batch->spans.ptr[i];
            any_error |= span->status.code == WEFT_PLUGIN_TRACES_STATUS_CODE_ERROR;
            if (span->start_time_unix_nano < start)
                start = span->start_time_unix_nano;
            if (span->end_time_unix_nano > end)
                end = span->end_time_unix_nano;
        }
        const char *reason;
        decisions[t].keep = policy_keeps(&settings, any_error, start, end, &reason);
        trace_sampler_string_dup(&decisions[t].reason, reason);
    }
    exports_weft_plugin_trace_policy_batch_free(batch);
    exports_weft_plugin_trace_policy_list_range_free(traces);
    ret->ptr = decisions;
    ret->len = count;
    return true;
}
