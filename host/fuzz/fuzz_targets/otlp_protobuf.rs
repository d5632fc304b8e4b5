//! OTLP protobuf as the receivers take it: the pre-decode footprint scan, prost decoding,
//! validation and the contract view. No input may panic; the scan must charge at least the
//! bytes and count every span that decodes.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

fuzz_target!(|bytes: &[u8]| {
    let footprint = weft::pipeline::protobuf_footprint(bytes);
    assert!(footprint.bytes >= bytes.len());
    let Ok(request) = ExportTraceServiceRequest::decode(bytes) else {
        return;
    };
    assert_eq!(
        footprint.spans,
        weft::pipeline::span_count(&request),
        "the scan counts the spans prost decodes"
    );
    common::check_request(&request);
});
