//! Tests of `validate.rs`.

use super::*;
use crate::config::OnError;

fn errors(text: &str) -> Vec<String> {
    errors_in(text, Path::new("."))
}

#[test]
fn grants_and_tail_sampling_are_checked() {
    let found = errors(
        r#"
        [receivers.otlp.grpc]
        endpoint = "127.0.0.1:4317"
        [[processors]]
        name = "a"
        plugin = "builtin:tail-policy"
        [processors.grants]
        read_only_dirs = { "lookup" = "no-such-dir" }
        env = ["WEFT_SURELY_UNSET_VARIABLE"]
        [processors.tail_sampling]
        max_traces = 0
        [[processors]]
        name = "b"
        plugin = "builtin:tail-policy"
        [processors.tail_sampling]
        [exporters.out]
        type = "stdout"
        "#,
    );
    let joined = found.join("\n");
    assert_eq!(found.len(), 5, "{joined}");
    for expected in [
        "processors[0] (\"a\").grants.read_only_dirs: \"lookup\": the path the plugin sees must be absolute",
        "grants.read_only_dirs.\"lookup\": directory",
        "grants.env: environment variable \"WEFT_SURELY_UNSET_VARIABLE\" is not set",
        "processors[0] (\"a\").tail_sampling.max_traces: must be greater than 0",
        "processors[1] (\"b\").tail_sampling: processors[0] is already a tail-sampling stage",
    ] {
        assert!(joined.contains(expected), "{expected}\n{joined}");
    }
}

#[test]
fn a_redactor_fails_closed_unless_told_otherwise() {
    let (config, _) = parse(
        r#"
        [receivers.otlp.http]
        endpoint = "127.0.0.1:4318"
        [[processors]]
        name = "redact"
        plugin = "builtin:pii-redact"
        [[processors]]
        name = "enrich"
        plugin = "builtin:enrich"
        [[processors]]
        name = "redact-open"
        plugin = "builtin:pii-redact"
        on_error = "pass"
        [exporters.out]
        type = "stdout"
        "#,
        Path::new("."),
    )
    .unwrap();
    let on_error: Vec<OnError> = config.processors.iter().map(|p| p.on_error()).collect();
    assert_eq!(on_error, [OnError::Drop, OnError::Pass, OnError::Pass]);
}

#[test]
fn embedded_default_is_valid() {
    assert_eq!(errors(super::super::DEFAULT_CONFIG), Vec::<String>::new());
}

#[test]
fn reports_every_error_with_its_path() {
    let found = errors(
        r#"
        colour = "blue"
        [receivers.otlp.grpc]
        endpoint = "localhost"
        [[processors]]
        name = "a"
        plugin = "builtin:nope"
        [[processors]]
        name = "b"
        plugin = "builtin:enrich"
        on_error = "explode"
        [exporters.out]
        type = "otlp"
        endpoint = "ftp://x"
        "#,
    );
    let joined = found.join("\n");
    assert_eq!(found.len(), 5, "{joined}");
    assert!(joined.contains("colour: unknown section"), "{joined}");
    assert!(joined.contains("receivers.otlp.grpc.endpoint"), "{joined}");
    assert!(
        joined.contains("processors[0] (\"a\").plugin: no built-in plugin \"nope\""),
        "{joined}"
    );
    assert!(
        joined.contains("processors[1] (\"b\").on_error: unknown variant `explode`"),
        "{joined}"
    );
    assert!(joined.contains("exporters.out.endpoint"), "{joined}");
}

#[test]
fn rejects_unknown_keys_in_nested_tables() {
    let found = errors(
        r#"
        [receivers.otlp.http]
        endpoint = "127.0.0.1:0"
        max_body = 10
        [exporters.s]
        type = "stdout"
        flush = true
        "#,
    );
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.contains(&"receivers.otlp.http.max_body: unknown field `max_body`, expected one of `endpoint`, `max_request_bytes`, `tls`, `limits`".to_owned()), "{found:?}");
    assert!(
        found
            .iter()
            .any(|e| e.starts_with("exporters.s: unknown field `flush`")),
        "{found:?}"
    );
}

#[test]
fn an_admin_server_other_machines_reach_needs_a_token() {
    let config = |admin: &str| {
        format!(
            "[receivers.otlp.grpc]\nendpoint = \"127.0.0.1:4317\"\n\
             [exporters.out]\ntype = \"stdout\"\n[admin]\n{admin}\n"
        )
    };
    let errors = errors(&config("endpoint = \"0.0.0.0:8888\""));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("admin.endpoint: 0.0.0.0:8888 is reachable"));
    let dir = std::env::temp_dir().join(format!("weft-admin-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token = dir.join("admin-token");
    std::fs::write(&token, "t0k3n-for-admin\n").unwrap();
    let with_token = config(&format!(
        "endpoint = \"0.0.0.0:8888\"\ntoken = \"${{file:{}}}\"",
        token.display()
    ));
    assert_eq!(self::errors(&with_token), Vec::<String>::new());
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        self::errors(&config("endpoint = \"127.0.0.1:8888\"")),
        Vec::<String>::new()
    );
    let written_out = config("token = \"t0k3n-for-admin\"\nendpoint = \"0.0.0.0:1\"");
    let errors = self::errors(&written_out);
    assert!(errors.iter().all(|e| !e.contains("t0k3n")), "{errors:?}");
    assert!(errors[0].starts_with("admin.token: must be"), "{errors:?}");
}

#[test]
fn duplicate_processor_names_are_refused() {
    let found = errors(
        r#"
        [receivers.otlp.grpc]
        endpoint = "127.0.0.1:0"
        [[processors]]
        name = "x"
        plugin = "builtin:enrich"
        [[processors]]
        name = "x"
        plugin = "builtin:enrich"
        [exporters.s]
        type = "stdout"
        "#,
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("unique"), "{found:?}");
}

#[test]
fn the_example_configurations_are_valid() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    // (examples/tls needs the certificates its script makes and a token in the environment.)
    for name in [
        "weft.toml",
        "durable/weft.toml",
        "loadbalancing/gateway.toml",
    ] {
        let path = examples.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let base = path.parent().unwrap();
        if let Err(e) = parse(&text, base) {
            panic!("examples/{name} is not valid: {e}");
        }
    }
}

#[test]
fn persistence_settings_are_checked() {
    let found = errors(
        r#"
        [receivers.otlp.grpc]
        endpoint = "127.0.0.1:4317"
        [pipeline.persistence]
        segment_mb = 64
        max_disk_mb = 100
        fsync_interval_ms = 5000
        max_tries = 0
        [exporters.out]
        type = "stdout"
        "#,
    );
    assert_eq!(
        found,
        [
            "pipeline.persistence.max_disk_mb: must be at least two segments (128 MiB), got 100",
            "pipeline.persistence.fsync_interval_ms: must be at most 1000 (every acknowledgement waits for it), got 5000",
            "pipeline.persistence.max_tries: must be at least 1",
        ]
    );
}

#[test]
fn a_drop_in_directory_is_the_chain_in_file_name_order() {
    let dir = std::env::temp_dir().join(format!("weft-drop-in-{}", std::process::id()));
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for name in [
        "20-enrich.wasm",
        "10-redact.wasm",
        "notes.txt",
        ".30-hidden.wasm",
    ] {
        std::fs::write(plugins.join(name), b"").unwrap();
    }
    std::fs::write(
        plugins.join("10-redact.toml"),
        "on_error = \"drop\"\ntimeout_ms = 50\n[config]\nredact_status_messages = true\n",
    )
    .unwrap();
    let text = r#"
        [receivers.otlp.grpc]
        endpoint = "127.0.0.1:0"
        [pipeline]
        chain = "directory"
        plugin_dir = "plugins"
        [exporters.out]
        type = "stdout"
        "#;
    let (config, _) = parse(text, &dir).unwrap();
    let chain: Vec<(&str, &str, u64)> = config
        .processors
        .iter()
        .map(|p| (p.name.as_str(), p.plugin.as_str(), p.timeout_ms))
        .collect();
    assert_eq!(
        chain,
        [
            ("10-redact", "10-redact.wasm", 50),
            ("20-enrich", "20-enrich.wasm", 1000)
        ]
    );
    assert_eq!(config.processors[0].on_error(), OnError::Drop);
    // A sidecar that names the processor, or sets an unknown key, is refused with its file.
    std::fs::write(
        plugins.join("20-enrich.toml"),
        "name = \"x\"\ntimout_ms = 5\n",
    )
    .unwrap();
    let found = errors_in(text, &dir);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("20-enrich.toml: name: is the component's file name"),
        "{found:?}"
    );
    std::fs::write(plugins.join("20-enrich.toml"), "timout_ms = 5\n").unwrap();
    let found = errors_in(text, &dir);
    assert!(
        found[0].contains("20-enrich.toml") && found[0].contains("timout_ms"),
        "{found:?}"
    );
    // [[processors]] beside a drop-in directory is refused.
    let both = format!("{text}\n[[processors]]\nname = \"a\"\nplugin = \"builtin:enrich\"\n");
    assert!(errors_in(&both, &dir)[0].starts_with("processors: with pipeline.chain"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn errors_in(text: &str, dir: &Path) -> Vec<String> {
    match parse(text, dir) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}
