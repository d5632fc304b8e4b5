//! Weft: an OpenTelemetry pipeline whose processors are sandboxed WebAssembly components.
//!
//! Spans enter through [`receiver`]s, queue in the [`pipeline`], pass through the processor
//! chain run by the plugin [`runtime`], and leave through [`exporter`]s. [`service`] assembles
//! the pieces from a [`config`].

pub mod admin;
pub mod bench;
pub mod builtin;
pub mod cli;
pub mod codec;
pub mod config;
pub mod exporter;
pub mod loader;
pub mod pipeline;
pub mod receiver;
pub mod reload;
pub mod runtime;
pub mod service;
pub mod tail;
pub mod tap;
pub mod telemetry;
pub mod topology;
