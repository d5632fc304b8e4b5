/*
 * A head sampler for Weft, in C: keeps errors, slow spans, and a consistent share of traces;
 * drops the rest. The WebAssembly glue around sampler.c, against the bindings that
 * `wit-bindgen c` generates for the `processor` world (processor.h).
 *
 * Config (the processor's `config` table in weft.toml):
 *   ratio = 0.25          # share of ordinary traces kept (default 1)
 *   keep_errors = true    # keep spans with status ERROR (default true)
 *   slower_than_ms = 500  # keep spans at least this slow (default 0: off)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processor.h"
#include "sampler.h"

/* Set once by init; an instance serves one processor. */
static sampler_settings settings;

bool exports_weft_plugin_span_processor_init(processor_string_t *config,
                                             exports_weft_plugin_span_processor_interest_t *ret,
                                             processor_string_t *err) {
    char error[256];
    bool ok = sampler_configure((const char *)config->ptr, config->len, &settings, error,
                                sizeof error);
    processor_string_free(config);
    if (!ok) {
        processor_string_dup(err, error);
        return false;
    }
    /* Ids, times and status: no attribute, no name crosses into the plugin. */
    memset(ret, 0, sizeof *ret);
    ret->span_fields = WEFT_PLUGIN_TRACES_SPAN_FIELDS_IDS | WEFT_PLUGIN_TRACES_SPAN_FIELDS_TIMES |
                       WEFT_PLUGIN_TRACES_SPAN_FIELDS_STATUS;
    ret->span_attributes.tag = WEFT_PLUGIN_COMMON_ATTRIBUTE_SELECTION_NONE;
    ret->event_attributes.tag = WEFT_PLUGIN_COMMON_ATTRIBUTE_SELECTION_NONE;
    ret->link_attributes.tag = WEFT_PLUGIN_COMMON_ATTRIBUTE_SELECTION_NONE;
    ret->resource_attributes.tag = WEFT_PLUGIN_COMMON_ATTRIBUTE_SELECTION_NONE;
    ret->scope_attributes.tag = WEFT_PLUGIN_COMMON_ATTRIBUTE_SELECTION_NONE;
    return true;
}

bool exports_weft_plugin_span_processor_process(
    exports_weft_plugin_span_processor_batch_t *batch,
    exports_weft_plugin_span_processor_list_edit_t *ret,
    exports_weft_plugin_span_processor_processor_error_t *err) {
    size_t count = batch->spans.len;
    /* At most one edit per span; the host frees the list after the call. */
    exports_weft_plugin_span_processor_edit_t *edits =
        count ? malloc(count * sizeof *edits) : NULL;
    if (count && !edits) {
        weft_plugin_traces_batch_free(batch);
        processor_string_dup(&err->message, "out of memory for the edits");
        return false;
    }
    size_t dropped = 0;
    for (size_t i = 0; i < count; i++) {
        const weft_plugin_traces_span_t *span = &batch->spans.ptr[i];
        uint64_t duration = span->end_time_unix_nano > span->start_time_unix_nano
                                ? span->end_time_unix_nano - span->start_time_unix_nano
                                : 0;
        bool is_error = span->status.code == WEFT_PLUGIN_TRACES_STATUS_CODE_ERROR;
        if (!sampler_keeps(&settings, span->trace_id.low, is_error, duration)) {
            edits[dropped].tag = WEFT_PLUGIN_TRACES_EDIT_DROP_SPAN;
            edits[dropped].val.drop_span = (uint32_t)i;
            dropped++;
        }
    }
    weft_plugin_traces_batch_free(batch);
    if (dropped) {
        processor_string_t name;
        processor_string_set(&name, "spans_dropped");
        weft_plugin_host_counter_add(&name, dropped);
    }
    ret->ptr = edits;
    ret->len = dropped;
    return true;
}
