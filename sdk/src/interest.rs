//! Convenience constructors for [`Interest`].

use crate::{AttributeSelection, Interest, SpanFields};

impl Interest {
    /// Reads nothing but the batch shape: spans arrive with only their scope index. Enough for
    /// a processor that stamps every span.
    pub fn nothing() -> Self {
        Interest {
            span_fields: SpanFields::empty(),
            span_attributes: AttributeSelection::None,
            event_attributes: AttributeSelection::None,
            link_attributes: AttributeSelection::None,
            resource_attributes: AttributeSelection::None,
            scope_attributes: AttributeSelection::None,
        }
    }

    /// Reads everything: the easy path for a processor that needs the whole span.
    pub fn everything() -> Self {
        Interest {
            span_fields: SpanFields::IDS
                | SpanFields::TRACE_STATE
                | SpanFields::NAME
                | SpanFields::KIND
                | SpanFields::TIMES
                | SpanFields::STATUS
                | SpanFields::FLAGS
                | SpanFields::EVENTS
                | SpanFields::LINKS
                | SpanFields::DROPPED_COUNTS,
            span_attributes: AttributeSelection::All,
            event_attributes: AttributeSelection::All,
            link_attributes: AttributeSelection::All,
            resource_attributes: AttributeSelection::All,
            scope_attributes: AttributeSelection::All,
        }
    }
}
