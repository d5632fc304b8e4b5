//! Reference plugins compiled into the binary (`plugin = "builtin:NAME"`).

/// (name, component bytes) of every built-in plugin.
const BUILTINS: &[(&str, &[u8])] = &[
    (
        "enrich",
        include_bytes!(concat!(env!("OUT_DIR"), "/enrich.wasm")),
    ),
    (
        "pii-redact",
        include_bytes!(concat!(env!("OUT_DIR"), "/pii-redact.wasm")),
    ),
    (
        "sample",
        include_bytes!(concat!(env!("OUT_DIR"), "/sample.wasm")),
    ),
    (
        "tail-policy",
        include_bytes!(concat!(env!("OUT_DIR"), "/tail-policy.wasm")),
    ),
];

/// The component bytes of built-in plugin `name`.
pub fn plugin(name: &str) -> Option<&'static [u8]> {
    BUILTINS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, bytes)| *bytes)
}

/// Names of the built-in plugins.
pub fn names() -> Vec<&'static str> {
    BUILTINS.iter().map(|(n, _)| *n).collect()
}
