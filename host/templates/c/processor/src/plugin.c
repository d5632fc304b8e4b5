/*
 * {{name}}: a Weft span processor in C. The WebAssembly glue around filter.c, against the
 * bindings `weft plugin build` generates from wit/weft.wit for the `processor` world
 * (processor.h).
 *
 * Drops spans whose name is one of `drop_names` (health checks by default) and passes every
 * other span through untouched.
 *
 * Config (the processor's `config` table in weft.toml):
 *   drop_names = ["GET /healthz", "GET /readyz"]
 */
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "processor.h"

/* Set once by init; an instance serves one processor. */
static filter_settings settings;

bool exports_weft_plugin_span_processor_init(processor_string_t *config,
                                             exports_weft_plugin_span_processor_interest_t *ret,
                                             processor_string_t *err) {
    char error[256];
    bool ok = filter_configure((const char *)config->ptr, config->len, &settings, error,
                               sizeof error);
    processor_string_free(config);
    if (!ok) {
        processor_string_dup(err, error);
        return false;
    }
    /* Span names only: no attribute crosses into the plugin. */
    memset(ret, 0, sizeof *ret);
    ret->span_fields = WEFT_PLUGIN_TRACES_SPAN_FIELDS_NAME;
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
    exports_weft_plugin_span_processor_edit_t *edits = count ? malloc(count * sizeof *edits) : NULL;
    if (count && !edits) {
        weft_plugin_traces_batch_free(batch);
        processor_string_dup(&err->message, "out of memory for the edits");
        return false;
    }
    size_t dropped = 0;
    for (size_t i = 0; i < count; i++) {
        const weft_plugin_traces_span_t *span = &batch->spans.ptr[i];
        const char *name = (const char *)batch->arena.ptr + span->name.offset;
        if (filter_drops(&settings, name, span->name.len)) {
            edits[dropped].tag = WEFT_PLUGIN_TRACES_EDIT_DROP_SPAN;
            edits[dropped].val.drop_span = (uint32_t)i;
            dropped++;
        }
    }
    weft_plugin_traces_batch_free(batch);
    ret->ptr = edits;
    ret->len = dropped;
    return true;
}
