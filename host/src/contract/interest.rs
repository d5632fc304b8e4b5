//! Interests: what a plugin reads, as the host fills it in for views.

use super::bindings::{AttributeSelection, Interest, SpanFields};

/// An interest that reads nothing.
pub fn no_interest() -> Interest {
    Interest {
        span_fields: SpanFields::empty(),
        span_attributes: AttributeSelection::None,
        event_attributes: AttributeSelection::None,
        link_attributes: AttributeSelection::None,
        resource_attributes: AttributeSelection::None,
        scope_attributes: AttributeSelection::None,
    }
}

/// An interest that reads every field and every attribute, as records (not packed).
pub fn full_interest() -> Interest {
    Interest {
        span_fields: SpanFields::all() & !SpanFields::PACKED,
        span_attributes: AttributeSelection::All,
        event_attributes: AttributeSelection::All,
        link_attributes: AttributeSelection::All,
        resource_attributes: AttributeSelection::All,
        scope_attributes: AttributeSelection::All,
    }
}

/// What a tail-sampling policy is sent: what it asked for, plus what every policy gets (span
/// ids and parent ids, names, kinds, times, status, and each resource's `service.name`).
pub fn policy_interest(mut interest: Interest) -> Interest {
    interest.span_fields |= SpanFields::IDS
        | SpanFields::NAME
        | SpanFields::KIND
        | SpanFields::TIMES
        | SpanFields::STATUS;
    let service = "service.name".to_owned();
    interest.resource_attributes = match interest.resource_attributes {
        AttributeSelection::None => AttributeSelection::Keys(vec![service]),
        AttributeSelection::Keys(mut keys) => {
            if !keys.contains(&service) {
                keys.push(service);
            }
            AttributeSelection::Keys(keys)
        }
        everything => everything,
    };
    interest
}
