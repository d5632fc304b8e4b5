//! What a backend said of an export it accepted: OTLP's partial success, the spans it
//! rejected even though the call succeeded. Those spans were not delivered and are counted as
//! failed, not sent.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

/// The most of a backend's answer read (a partial success is a count and a short message).
pub const MAX_ANSWER_BYTES: usize = 64 << 10;

/// An accepted export's outcome.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Spans the backend rejected (`partial_success.rejected_spans`).
    pub rejected_spans: u64,
    /// Why, as the backend put it (may be empty).
    pub message: String,
}

impl Delivery {
    /// Everything was delivered (a sink that has no answer to read, such as a file).
    pub fn whole() -> Self {
        Delivery::default()
    }

    /// Reads an `ExportTraceServiceResponse` (protobuf). An answer that cannot be read is
    /// taken as no partial success: the call itself said OK.
    pub fn from_protobuf(answer: &[u8]) -> Self {
        ExportTraceServiceResponse::decode(answer)
            .map(Self::from_response)
            .unwrap_or_default()
    }

    /// Reads an `ExportTraceServiceResponse` in OTLP/JSON, as for [`Delivery::from_protobuf`].
    /// `rejectedSpans` is an int64, which OTLP/JSON writes as a string or a number.
    pub fn from_json(answer: &[u8]) -> Self {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(answer) else {
            return Delivery::whole();
        };
        let partial = &value["partialSuccess"];
        let rejected = match &partial["rejectedSpans"] {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.parse::<u64>().ok(),
            _ => None,
        };
        Delivery {
            rejected_spans: rejected.unwrap_or(0),
            message: partial["errorMessage"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    fn from_response(response: ExportTraceServiceResponse) -> Self {
        let partial = response.partial_success.unwrap_or_default();
        Delivery {
            rejected_spans: u64::try_from(partial.rejected_spans).unwrap_or(0),
            message: partial.error_message,
        }
    }

    /// Of `spans` sent, how many were delivered and how many rejected (a backend claiming to
    /// reject more than it was sent rejected them all).
    pub fn split(&self, spans: u64) -> (u64, u64) {
        let rejected = self.rejected_spans.min(spans);
        (spans - rejected, rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;

    fn answer(rejected_spans: i64, message: &str) -> ExportTraceServiceResponse {
        ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans,
                error_message: message.into(),
            }),
        }
    }

    #[test]
    fn a_partial_success_is_read_from_protobuf_and_json() {
        let expected = Delivery {
            rejected_spans: 3,
            message: "too old".into(),
        };
        let encoded = answer(3, "too old").encode_to_vec();
        assert_eq!(Delivery::from_protobuf(&encoded), expected);
        let json = br#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"too old"}}"#;
        assert_eq!(Delivery::from_json(json), expected);
        let number = br#"{"partialSuccess":{"rejectedSpans":3,"errorMessage":"too old"}}"#;
        assert_eq!(Delivery::from_json(number), expected);
        assert_eq!(Delivery::from_json(b"{}"), Delivery::whole());
        assert_eq!(expected.split(10), (7, 3));
        assert_eq!(expected.split(2), (0, 2));
    }

    #[test]
    fn an_empty_or_unreadable_answer_is_a_whole_delivery() {
        assert_eq!(Delivery::from_protobuf(&[]), Delivery::whole());
        assert_eq!(Delivery::from_protobuf(&[0xff, 0xff]), Delivery::whole());
        assert_eq!(Delivery::from_json(b"not json"), Delivery::whole());
        assert_eq!(
            Delivery::from_protobuf(&answer(-4, "").encode_to_vec()).rejected_spans,
            0
        );
    }
}
