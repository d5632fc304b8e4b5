//! Weft's end-to-end tests, one module per concern, linked into one test binary: each binary
//! links the whole host (wasmtime, tonic, the OTLP types), so one binary keeps the test build
//! small on disk and quick to link.

mod accounting;
mod admission;
mod c_plugin;
mod contract_versions;
mod drop_in;
mod durability;
mod faults;
mod hardening;
mod hostile;
mod javascript_plugin;
mod loadbalancing;
mod lossless;
mod malformed;
mod memory_bomb;
mod oci;
mod oci_signatures;
mod operability;
mod packed_sdk;
mod python_plugin;
mod redaction_matrix;
mod reference_plugins;
mod reload;
mod security;
mod signatures;
mod tail_sampling;
mod tls;
mod traffic;
mod wire_passthrough;
