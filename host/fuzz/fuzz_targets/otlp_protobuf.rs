//! OTLP protobuf as the receivers take it: the pre-decode footprint scan, then the wire walk
//! that validates and indexes a request, compared with prost. No input may panic; the walk
//! accepts exactly what prost decodes within the id rules, and reads the same spans; the scan
//! charges at least the bytes and counts every span.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use weft::pdata::Traces;

fuzz_target!(|bytes: &[u8]| {
    let footprint = weft::pipeline::protobuf_footprint(bytes);
    assert!(footprint.bytes >= bytes.len());
    let ours = Traces::decode(bytes.to_vec().into());
    let theirs = ExportTraceServiceRequest::decode(bytes);
    match (ours, theirs) {
        (Ok(batch), Ok(request)) => {
            assert!(common::ids_valid(&request), "accepted ids prost reads as invalid");
            assert_eq!(footprint.spans, batch.span_count(), "the scan counts every span");
            assert_eq!(batch.to_request(), request, "the same spans as prost");
            if !batch.changed() && batch.original().as_ref() == bytes {
                assert_eq!(batch.encode_to_vec(), bytes, "unchanged, written as it came");
            }
            common::check_batch(&batch);
        }
        (Ok(_), Err(error)) => panic!("accepted what prost refuses: {error}"),
        (Err(error), Ok(request)) => assert!(
            !common::ids_valid(&request),
            "refused what prost decodes with valid ids: {error}"
        ),
        (Err(_), Err(_)) => {}
    }
});
