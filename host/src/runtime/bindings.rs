//! Host-side bindings for the `weft:plugin` WIT package: the one `bindgen!` of the host.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "processor",
    imports: { default: trappable },
});

pub use weft::plugin::common::{
    AttributeSelection, AttributeView, Level, NodeView, Slice, Value, ValueNode, ValueView,
};
pub use weft::plugin::traces::{
    Batch, Edit, Event, Interest, Link, Resource, Scope, Span, SpanFields, SpanKind, Status,
    StatusCode, Target, TraceId,
};
