//! OTLP JSON as the HTTP receiver takes it: the footprint estimate, serde decoding,
//! the wire walk over what it re-encodes to, and the contract view. No input may panic.
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
    let Ok(batch) = weft::pdata::Traces::decode(prost::Message::encode_to_vec(&request).into())
    else {
        assert!(!common::ids_valid(&request), "prost's own encoding refused");
        return;
    };
    assert_eq!(batch.to_request(), request);
    common::check_batch(&batch);
});
