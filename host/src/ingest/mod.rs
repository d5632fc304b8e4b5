//! The path every receiver shares once it holds a request's bytes: admission by memory,
//! decode and validation into a [`Traces`] batch, the client certificate's stamp, and the
//! hand-off to the pipeline. Transports (gRPC, HTTP) only frame, authenticate, inflate and
//! answer.
//!
//! Owns: what a request must be to be accepted. Must not know the transports' status codes.

use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::pdata::traces::patch::{AttributesOf, string_value};
use crate::pdata::{DecodeError, Problem, Traces};
use crate::pipeline::{Protocol, Refusal, Submitter, json_footprint, protobuf_footprint};

/// How a request's body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OTLP protobuf.
    Protobuf,
    /// OTLP JSON.
    Json,
}

/// Why a request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The pipeline refused it (busy, shutting down, too large for the memory ceiling).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The body is not valid OTLP protobuf.
    #[error("invalid OTLP protobuf: {0}")]
    Protobuf(DecodeError),
    /// The body is not valid OTLP JSON.
    #[error("invalid OTLP JSON: {0}")]
    Json(serde_json::Error),
    /// The request is well-formed but breaks an OTLP rule (an id of the wrong length).
    #[error("{0}")]
    Invalid(DecodeError),
}

/// A receiver's way into the pipeline.
#[derive(Clone)]
pub struct Ingest {
    submitter: Submitter,
    protocol: Protocol,
    /// The resource attribute that names the client certificate's subject (mutual TLS).
    subject_attribute: Option<Arc<str>>,
}

impl Ingest {
    /// The path for requests arriving over `protocol`.
    pub fn new(
        submitter: Submitter,
        protocol: Protocol,
        subject_attribute: Option<Arc<str>>,
    ) -> Self {
        Ingest {
            submitter,
            protocol,
            subject_attribute,
        }
    }

    /// The pipeline handle (for the transports' own counters).
    pub fn submitter(&self) -> &Submitter {
        &self.submitter
    }

    /// Admits, reads and queues the request in `body`. `client_subject` is the verified
    /// client certificate's subject, stamped on every resource when configured. Once this
    /// returns `Ok` the pipeline owns the spans; every refusal is counted.
    pub async fn accept(
        &self,
        body: Bytes,
        format: Format,
        client_subject: Option<&str>,
    ) -> Result<(), IngestError> {
        let footprint = match format {
            Format::Protobuf => protobuf_footprint(&body),
            Format::Json => json_footprint(&body),
        };
        let memory = self.submitter.admit(self.protocol, footprint).await?;
        let mut batch = match read(body, format) {
            Ok(batch) => batch,
            Err(error) => {
                self.submitter.count_refused(self.protocol, footprint.spans);
                return Err(error);
            }
        };
        if let (Some(key), Some(subject)) = (&self.subject_attribute, client_subject) {
            stamp_client_subject(&mut batch, key, subject);
        }
        self.submitter.submit(self.protocol, batch, memory).await?;
        Ok(())
    }
}

/// Decodes and checks a body.
fn read(body: Bytes, format: Format) -> Result<Traces, IngestError> {
    let bytes = match format {
        Format::Protobuf => body,
        Format::Json => serde_json::from_slice::<ExportTraceServiceRequest>(&body)
            .map_err(IngestError::Json)?
            .encode_to_vec()
            .into(),
    };
    Traces::decode(bytes).map_err(|error| match (format, error.problem) {
        (_, Problem::IdLength { .. }) => IngestError::Invalid(error),
        (Format::Protobuf, _) => IngestError::Protobuf(error),
        // prost wrote it: only the id rules can fail.
        (Format::Json, _) => IngestError::Invalid(error),
    })
}

/// Sets resource attribute `key` to `subject` (the client certificate's) on every resource
/// of `batch`, replacing what the client sent under that key: a client cannot claim another
/// tenant's name.
pub fn stamp_client_subject(batch: &mut Traces, key: &str, subject: &str) {
    let attribute = batch.append_key_value(key, |out| string_value(out, subject));
    for resource in 0..batch.indexed_resources() {
        batch
            .attributes_mut(AttributesOf::Resource(resource))
            .set(attribute);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_request_with_a_short_trace_id_names_the_field() {
        let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102","spanId":"0102030405060708","name":"x"}]}]}]}"#;
        let error = read(Bytes::from_static(body), Format::Json).unwrap_err();
        assert_eq!(
            error.to_string(),
            "resource_spans[0].scope_spans[0].spans[0].trace_id: expected 16 bytes, got 2"
        );
    }

    #[test]
    fn the_subject_replaces_what_the_client_claimed_on_every_resource() {
        use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
        use opentelemetry_proto::tonic::resource::v1::Resource;
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        let scope_spans = vec![ScopeSpans {
            spans: vec![Span::default()],
            ..Default::default()
        }];
        let claimed = KeyValue {
            key: "tenant".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("someone-else".into())),
            }),
            ..Default::default()
        };
        let request = ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![claimed.clone(), claimed],
                        ..Default::default()
                    }),
                    scope_spans: scope_spans.clone(),
                    ..Default::default()
                },
                ResourceSpans {
                    scope_spans,
                    ..Default::default()
                },
            ],
        };
        let mut batch = Traces::from_request(&request);
        stamp_client_subject(&mut batch, "tenant", "CN=billing");
        let resources = batch.to_request().resource_spans;
        assert_eq!(resources.len(), 2);
        for resource in resources {
            let attributes = resource.resource.unwrap().attributes;
            assert_eq!(attributes.len(), 1);
            assert_eq!(
                attributes[0].value.as_ref().unwrap().value,
                Some(any_value::Value::StringValue("CN=billing".into()))
            );
        }
    }
}
