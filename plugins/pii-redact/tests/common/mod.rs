//! Helpers the redactor's test files share: a processor from a config, its edits on a batch,
//! and the edits and events the assertions spell out.

// Each test file uses the helpers it needs.
#![allow(dead_code)]

use weft_plugin_pii_redact::PiiRedact;
use weft_sdk::testing::{EventSpec, run};
use weft_sdk::{Batch, Edit, Processor, Target, Value};

/// The processor `config` makes; panics with the reason if it is refused.
pub fn init(config: &str) -> PiiRedact {
    PiiRedact::init(config).unwrap_or_else(|error| panic!("config refused: {error}"))
}

/// Why `config` is refused; panics if it is accepted.
pub fn refused(config: &str) -> String {
    match PiiRedact::init(config) {
        Ok(_) => panic!("config accepted: {config}"),
        Err(error) => error,
    }
}

/// The edits the processor `config` makes returns for `batch`.
pub fn edits_of(config: &str, batch: &Batch) -> Vec<Edit> {
    run(&mut init(config), batch).unwrap()
}

/// Setting string attribute `key` of `target` to `value`.
pub fn set(target: Target, key: &str, value: &str) -> Edit {
    Edit::SetAttribute((target, key.into(), Value::Str(value.into())))
}

/// An `exception` event whose message is `message`.
pub fn exception(message: &str) -> EventSpec {
    EventSpec {
        name: "exception".into(),
        time_unix_nano: 1,
        attributes: vec![("exception.message".into(), message.into())],
    }
}
