//! Weft: an OpenTelemetry pipeline whose processors are sandboxed WebAssembly components.
//!
//! Spans enter through [`receiver`]s, queue in the [`pipeline`], pass through the processor
//! chain run by the plugin [`runtime`], and leave through [`exporter`]s. [`service`] assembles
//! the pieces from a [`config`].

// No `unwrap` on what a request or a plugin can shape: the host must not panic on input.
// (Tests may; see clippy.toml.)
#![warn(clippy::unwrap_used)]

pub mod admin;
pub mod auth;
pub mod builtin;
pub mod cli;
pub mod codec;
pub mod config;
pub mod contract;
pub mod durable;
pub mod exporter;
pub mod ingest;
pub mod loader;
pub mod oci;
pub mod pdata;
pub mod persistent_queue;
pub mod pipeline;
pub mod receiver;
pub mod reload;
pub mod sandbox;
pub mod serve;
pub mod service;
pub mod sync;
pub mod tail;
pub mod tap;
pub mod telemetry;
pub mod tls;
pub mod topology;
pub mod trust;
pub mod workers;
