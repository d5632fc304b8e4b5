//! OTLP JSON as the HTTP receiver takes it: the footprint estimate, serde decoding,
//! validation and the contract view. No input may panic.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

fuzz_target!(|bytes: &[u8]| {
    let footprint = weft::pipeline::json_footprint(bytes);
    assert!(footprint.bytes >= bytes.len());
    let Ok(request) = serde_json::from_slice::<ExportTraceServiceRequest>(bytes) else {
        return;
    };
    common::check_request(&request);
});
