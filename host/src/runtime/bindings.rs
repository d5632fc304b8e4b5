//! Host-side bindings for the `weft:plugin` WIT package: the one `bindgen!` of the host.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "processor",
    imports: { default: trappable },
    additional_derives: [PartialEq],
});

pub use self::weft::plugin::common::{
    AttributeSelection, AttributeView, Level, NodeView, Slice, Value, ValueNode, ValueView,
};
pub use self::weft::plugin::traces::{
    Batch, Edit, Event, Interest, Link, Range, Resource, Scope, Span, SpanFields, SpanKind, Status,
    StatusCode, Target, TraceId,
};
