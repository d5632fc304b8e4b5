//! Host-side bindings for the `weft:plugin` WIT package: one `bindgen!` per world, sharing
//! every interface type.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "processor",
    imports: { default: trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
});

/// Bindings of the `trace-sampler` world (tail-sampling policies). Its imports and shared
/// types are the ones generated for the `processor` world.
pub mod policy {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "trace-sampler",
        imports: { default: trappable },
        exports: { default: async },
        with: {
            "weft:plugin/common": super::weft::plugin::common,
            "weft:plugin/traces": super::weft::plugin::traces,
            "weft:plugin/host": super::weft::plugin::host,
        },
        additional_derives: [PartialEq],
    });
}

pub use self::policy::exports::weft::plugin::trace_policy::Decision;
pub use self::weft::plugin::common::{
    AttributeSelection, AttributeView, Level, NodeView, Slice, Value, ValueNode, ValueView,
};
pub use self::weft::plugin::traces::{
    Batch, Edit, Event, Interest, Link, Range, Resource, Scope, Span, SpanFields, SpanKind, Status,
    StatusCode, Target, TraceId,
};
