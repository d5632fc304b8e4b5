//! The OTLP messages Weft reads, as field numbers and wire kinds: what the validating walk
//! checks a request against (`opentelemetry/proto/{trace,common,resource}/v1`).
//!
//! Signals share `common` and `resource`; a signal adds its own messages here.

/// Field numbers, by message.
pub mod field {
    /// `ExportTraceServiceRequest` (the same wire shape as `TracesData`).
    pub mod request {
        /// `repeated ResourceSpans resource_spans`.
        pub const RESOURCE_SPANS: u32 = 1;
    }
    /// `ResourceSpans`.
    pub mod resource_spans {
        /// `Resource resource`.
        pub const RESOURCE: u32 = 1;
        /// `repeated ScopeSpans scope_spans`.
        pub const SCOPE_SPANS: u32 = 2;
        /// `string schema_url`.
        pub const SCHEMA_URL: u32 = 3;
    }
    /// `ScopeSpans`.
    pub mod scope_spans {
        /// `InstrumentationScope scope`.
        pub const SCOPE: u32 = 1;
        /// `repeated Span spans`.
        pub const SPANS: u32 = 2;
        /// `string schema_url`.
        pub const SCHEMA_URL: u32 = 3;
    }
    /// `Resource`.
    pub mod resource {
        /// `repeated KeyValue attributes`.
        pub const ATTRIBUTES: u32 = 1;
        /// `uint32 dropped_attributes_count`.
        pub const DROPPED_ATTRIBUTES_COUNT: u32 = 2;
    }
    /// `InstrumentationScope`.
    pub mod scope {
        /// `string name`.
        pub const NAME: u32 = 1;
        /// `string version`.
        pub const VERSION: u32 = 2;
        /// `repeated KeyValue attributes`.
        pub const ATTRIBUTES: u32 = 3;
        /// `uint32 dropped_attributes_count`.
        pub const DROPPED_ATTRIBUTES_COUNT: u32 = 4;
    }
    /// `Span`.
    pub mod span {
        /// `bytes trace_id`.
        pub const TRACE_ID: u32 = 1;
        /// `bytes span_id`.
        pub const SPAN_ID: u32 = 2;
        /// `string trace_state`.
        pub const TRACE_STATE: u32 = 3;
        /// `bytes parent_span_id`.
        pub const PARENT_SPAN_ID: u32 = 4;
        /// `string name`.
        pub const NAME: u32 = 5;
        /// `SpanKind kind`.
        pub const KIND: u32 = 6;
        /// `fixed64 start_time_unix_nano`.
        pub const START_TIME: u32 = 7;
        /// `fixed64 end_time_unix_nano`.
        pub const END_TIME: u32 = 8;
        /// `repeated KeyValue attributes`.
        pub const ATTRIBUTES: u32 = 9;
        /// `uint32 dropped_attributes_count`.
        pub const DROPPED_ATTRIBUTES_COUNT: u32 = 10;
        /// `repeated Event events`.
        pub const EVENTS: u32 = 11;
        /// `uint32 dropped_events_count`.
        pub const DROPPED_EVENTS_COUNT: u32 = 12;
        /// `repeated Link links`.
        pub const LINKS: u32 = 13;
        /// `uint32 dropped_links_count`.
        pub const DROPPED_LINKS_COUNT: u32 = 14;
        /// `Status status`.
        pub const STATUS: u32 = 15;
        /// `fixed32 flags`.
        pub const FLAGS: u32 = 16;
    }
    /// `Span.Event`.
    pub mod event {
        /// `fixed64 time_unix_nano`.
        pub const TIME: u32 = 1;
        /// `string name`.
        pub const NAME: u32 = 2;
        /// `repeated KeyValue attributes`.
        pub const ATTRIBUTES: u32 = 3;
        /// `uint32 dropped_attributes_count`.
        pub const DROPPED_ATTRIBUTES_COUNT: u32 = 4;
    }
    /// `Span.Link`.
    pub mod link {
        /// `bytes trace_id`.
        pub const TRACE_ID: u32 = 1;
        /// `bytes span_id`.
        pub const SPAN_ID: u32 = 2;
        /// `string trace_state`.
        pub const TRACE_STATE: u32 = 3;
        /// `repeated KeyValue attributes`.
        pub const ATTRIBUTES: u32 = 4;
        /// `uint32 dropped_attributes_count`.
        pub const DROPPED_ATTRIBUTES_COUNT: u32 = 5;
        /// `fixed32 flags`.
        pub const FLAGS: u32 = 6;
    }
    /// `Status`.
    pub mod status {
        /// `string message`.
        pub const MESSAGE: u32 = 2;
        /// `StatusCode code`.
        pub const CODE: u32 = 3;
    }
    /// `KeyValue`.
    pub mod key_value {
        /// `string key`.
        pub const KEY: u32 = 1;
        /// `AnyValue value`.
        pub const VALUE: u32 = 2;
    }
    /// `AnyValue` (a oneof: the last of these fields on the wire is the value).
    pub mod any_value {
        /// `string string_value`.
        pub const STRING: u32 = 1;
        /// `bool bool_value`.
        pub const BOOL: u32 = 2;
        /// `int64 int_value`.
        pub const INT: u32 = 3;
        /// `double double_value`.
        pub const DOUBLE: u32 = 4;
        /// `ArrayValue array_value`.
        pub const ARRAY: u32 = 5;
        /// `KeyValueList kvlist_value`.
        pub const KVLIST: u32 = 6;
        /// `bytes bytes_value`.
        pub const BYTES: u32 = 7;
        /// `int32 string_value_strindex` (profiles only).
        pub const STRINDEX: u32 = 8;
    }
    /// `ArrayValue` and `KeyValueList`: one repeated field each.
    pub mod list {
        /// `repeated AnyValue values` / `repeated KeyValue values`.
        pub const VALUES: u32 = 1;
    }
}

/// A message type the validating walk knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// `ExportTraceServiceRequest` (or `TracesData`).
    TracesRequest,
    /// `ResourceSpans`.
    ResourceSpans,
    /// `ScopeSpans`.
    ScopeSpans,
    /// `Resource`.
    Resource,
    /// `EntityRef` (of a resource).
    EntityRef,
    /// `InstrumentationScope`.
    Scope,
    /// `Span`.
    Span,
    /// `Span.Event`.
    Event,
    /// `Span.Link`.
    Link,
    /// `Status`.
    Status,
    /// `KeyValue`.
    KeyValue,
    /// `AnyValue`.
    AnyValue,
    /// `ArrayValue`.
    ArrayValue,
    /// `KeyValueList`.
    KeyValueList,
}

/// What a known field holds, as the walk checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A UTF-8 string (wire type 2).
    Str,
    /// Bytes (wire type 2).
    Bytes,
    /// A varint integer, enum or bool (wire type 0).
    Varint,
    /// `fixed64` or `double` (wire type 1).
    Fixed64,
    /// `fixed32` (wire type 5).
    Fixed32,
    /// An embedded message (wire type 2).
    Msg(Message),
}

impl Kind {
    /// The wire type the kind is written with.
    pub fn wire_type(self) -> u8 {
        match self {
            Kind::Varint => 0,
            Kind::Fixed64 => 1,
            Kind::Fixed32 => 5,
            Kind::Str | Kind::Bytes | Kind::Msg(_) => 2,
        }
    }
}

impl Message {
    /// The kind and the name of field `number`, or `None` for a field the schema does not
    /// know (skipped, and kept as it came).
    pub fn field(self, number: u32) -> Option<(Kind, &'static str)> {
        use Kind::*;
        Some(match (self, number) {
            (Message::TracesRequest, 1) => (Msg(Message::ResourceSpans), "resource_spans"),
            (Message::ResourceSpans, 1) => (Msg(Message::Resource), "resource"),
            (Message::ResourceSpans, 2) => (Msg(Message::ScopeSpans), "scope_spans"),
            (Message::ResourceSpans, 3) => (Str, "schema_url"),
            (Message::ScopeSpans, 1) => (Msg(Message::Scope), "scope"),
            (Message::ScopeSpans, 2) => (Msg(Message::Span), "spans"),
            (Message::ScopeSpans, 3) => (Str, "schema_url"),
            (Message::Resource, 1) => (Msg(Message::KeyValue), "attributes"),
            (Message::Resource, 2) => (Varint, "dropped_attributes_count"),
            (Message::Resource, 3) => (Msg(Message::EntityRef), "entity_refs"),
            (Message::EntityRef, 1) => (Str, "schema_url"),
            (Message::EntityRef, 2) => (Str, "type"),
            (Message::EntityRef, 3) => (Str, "id_keys"),
            (Message::EntityRef, 4) => (Str, "description_keys"),
            (Message::Scope, 1) => (Str, "name"),
            (Message::Scope, 2) => (Str, "version"),
            (Message::Scope, 3) => (Msg(Message::KeyValue), "attributes"),
            (Message::Scope, 4) => (Varint, "dropped_attributes_count"),
            (Message::Span, 1) => (Bytes, "trace_id"),
            (Message::Span, 2) => (Bytes, "span_id"),
            (Message::Span, 3) => (Str, "trace_state"),
            (Message::Span, 4) => (Bytes, "parent_span_id"),
            (Message::Span, 5) => (Str, "name"),
            (Message::Span, 6) => (Varint, "kind"),
            (Message::Span, 7) => (Fixed64, "start_time_unix_nano"),
            (Message::Span, 8) => (Fixed64, "end_time_unix_nano"),
            (Message::Span, 9) => (Msg(Message::KeyValue), "attributes"),
            (Message::Span, 10) => (Varint, "dropped_attributes_count"),
            (Message::Span, 11) => (Msg(Message::Event), "events"),
            (Message::Span, 12) => (Varint, "dropped_events_count"),
            (Message::Span, 13) => (Msg(Message::Link), "links"),
            (Message::Span, 14) => (Varint, "dropped_links_count"),
            (Message::Span, 15) => (Msg(Message::Status), "status"),
            (Message::Span, 16) => (Fixed32, "flags"),
            (Message::Event, 1) => (Fixed64, "time_unix_nano"),
            (Message::Event, 2) => (Str, "name"),
            (Message::Event, 3) => (Msg(Message::KeyValue), "attributes"),
            (Message::Event, 4) => (Varint, "dropped_attributes_count"),
            (Message::Link, 1) => (Bytes, "trace_id"),
            (Message::Link, 2) => (Bytes, "span_id"),
            (Message::Link, 3) => (Str, "trace_state"),
            (Message::Link, 4) => (Msg(Message::KeyValue), "attributes"),
            (Message::Link, 5) => (Varint, "dropped_attributes_count"),
            (Message::Link, 6) => (Fixed32, "flags"),
            (Message::Status, 2) => (Str, "message"),
            (Message::Status, 3) => (Varint, "code"),
            (Message::KeyValue, 1) => (Str, "key"),
            (Message::KeyValue, 2) => (Msg(Message::AnyValue), "value"),
            (Message::KeyValue, 3) => (Varint, "key_strindex"),
            (Message::AnyValue, 1) => (Str, "string_value"),
            (Message::AnyValue, 2) => (Varint, "bool_value"),
            (Message::AnyValue, 3) => (Varint, "int_value"),
            (Message::AnyValue, 4) => (Fixed64, "double_value"),
            (Message::AnyValue, 5) => (Msg(Message::ArrayValue), "array_value"),
            (Message::AnyValue, 6) => (Msg(Message::KeyValueList), "kvlist_value"),
            (Message::AnyValue, 7) => (Bytes, "bytes_value"),
            (Message::AnyValue, 8) => (Varint, "string_value_strindex"),
            (Message::ArrayValue, 1) => (Msg(Message::AnyValue), "values"),
            (Message::KeyValueList, 1) => (Msg(Message::KeyValue), "values"),
            _ => return None,
        })
    }

    /// Whether field `number` may occur many times (its path then carries an index).
    pub fn repeated(self, number: u32) -> bool {
        matches!(
            (self, number),
            (Message::TracesRequest, 1)
                | (Message::ResourceSpans | Message::ScopeSpans, 2)
                | (Message::Resource, 1 | 3)
                | (Message::EntityRef, 3 | 4)
                | (Message::Scope, 3)
                | (Message::Span, 9 | 11 | 13)
                | (Message::Event, 3)
                | (Message::Link, 4)
                | (Message::ArrayValue | Message::KeyValueList, 1)
        )
    }
}
