//! Parsing and checking a configuration, collecting every error with its path.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::{ConfigError, ConfigErrors};
use super::types::*;

/// Parses `text`, deserialising each section on its own so one mistake does not hide the next.
pub(super) fn parse(
    text: &str,
    base_dir: &Path,
) -> Result<(Config, super::SecretValues), ConfigErrors> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        ConfigErrors::single(ConfigError::new("", format!("invalid TOML: {e}")))
    })?;
    let mut errors = Vec::new();
    let secrets = super::secrets::expand(&mut table, base_dir, &mut errors);
    let mut config = Config::default();
    // Sections that failed to parse: checks that would only repeat their error are skipped.
    let mut broken = HashSet::new();
    for (key, value) in table {
        match key.as_str() {
            "receivers" => {
                match section(&mut errors, "receivers", value) {
                    Some(v) => config.receivers = v,
                    None => {
                        broken.insert("receivers");
                    }
                }
            }
            "pipeline" => {
                if let Some(v) = section(&mut errors, "pipeline", value) {
                    config.pipeline = v;
                }
            }
            "processors" => match value {
                toml::Value::Array(items) => {
                    for (i, item) in items.into_iter().enumerate() {
                        let path = match item.get("name").and_then(|n| n.as_str()) {
                            Some(name) => format!("processors[{i}] ({name:?})"),
                            None => format!("processors[{i}]"),
                        };
                        if let Some(p) = section(&mut errors, &path, item) {
                            config.processors.push(p);
                        }
                    }
                }
                _ => errors.push(ConfigError::new("processors", "expected an array of tables ([[processors]])")),
            },
            "reload" => {
                if let Some(v) = section(&mut errors, "reload", value) {
                    config.reload = v;
                }
            }
            "admin" => {
                if let Some(v) = section(&mut errors, "admin", value) {
                    config.admin = v;
                }
            }
            "exporters" => match value {
                toml::Value::Table(exporters) => {
                    for (name, item) in exporters {
                        match section(&mut errors, &format!("exporters.{name}"), item) {
                            Some(e) => {
                                config.exporters.insert(name, e);
                            }
                            None => {
                                broken.insert("exporters");
                            }
                        }
                    }
                }
                _ => errors.push(ConfigError::new("exporters", "expected a table of exporters ([exporters.NAME])")),
            },
            other => errors.push(ConfigError::new(
                other,
                "unknown section, expected one of `receivers`, `pipeline`, `processors`, `exporters`, `reload`, `admin`",
            )),
        }
    }
    check(&config, base_dir, &broken, &mut errors);
    if errors.is_empty() {
        Ok((config, secrets))
    } else {
        // A message may quote a value: never one a reference produced.
        for error in &mut errors {
            error.message = secrets.scrub(&error.message);
        }
        Err(ConfigErrors(errors))
    }
}

fn section<T: DeserializeOwned>(
    errors: &mut Vec<ConfigError>,
    path: &str,
    value: toml::Value,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let inner = e.path().to_string();
            let full = if inner.is_empty() || inner == "." {
                path.to_owned()
            } else {
                format!("{path}.{inner}")
            };
            errors.push(ConfigError::new(
                full,
                e.into_inner().message().trim().to_owned(),
            ));
            None
        }
    }
}

/// Checks an `https://` exporter's TLS files load and its settings go together.
fn check_client_tls(
    errors: &mut Vec<ConfigError>,
    path: &str,
    config: &OtlpExporterConfig,
    base_dir: &Path,
) {
    if let Some(tls) = &config.tls
        && tls.cert_file.is_some() != tls.key_file.is_some()
    {
        errors.push(ConfigError::new(
            format!("{path}.tls"),
            "cert_file and key_file go together (a client certificate needs its key)",
        ));
        return;
    }
    let alpn = crate::tls::Alpn::Http1;
    if let Err(error) = crate::tls::https_connector(config.tls.as_ref(), base_dir, alpn) {
        errors.push(ConfigError::new(format!("{path}.tls"), error.to_string()));
    }
}

/// Checks that granted directories exist and granted environment variables are set.
fn check_grants(errors: &mut Vec<ConfigError>, path: &str, grants: &GrantsConfig, base_dir: &Path) {
    for (guest, host) in &grants.read_only_dirs {
        if !guest.starts_with('/') {
            errors.push(ConfigError::new(
                format!("{path}.read_only_dirs"),
                format!("{guest:?}: the path the plugin sees must be absolute, like \"/lookup\""),
            ));
        }
        let dir = base_dir.join(host);
        if !dir.is_dir() {
            errors.push(ConfigError::new(
                format!("{path}.read_only_dirs.{guest:?}"),
                format!("directory {} does not exist", dir.display()),
            ));
        }
    }
    for name in &grants.env {
        if std::env::var(name).is_err() {
            errors.push(ConfigError::new(
                format!("{path}.env"),
                format!("environment variable {name:?} is not set (or not UTF-8)"),
            ));
        }
    }
}

/// Checks the numbers of a `[processors.tail_sampling]` table.
fn check_tail_sampling(errors: &mut Vec<ConfigError>, path: &str, tail: &TailSamplingConfig) {
    let positive = [
        ("decision_wait_ms", tail.decision_wait_ms as usize),
        ("max_traces", tail.max_traces),
        ("max_buffered_mb", tail.max_buffered_mb as usize),
        ("decision_cache", tail.decision_cache),
        ("decision_cache_ttl_ms", tail.decision_cache_ttl_ms as usize),
    ];
    for (key, value) in positive {
        if value == 0 {
            errors.push(ConfigError::new(
                format!("{path}.{key}"),
                "must be greater than 0",
            ));
        }
    }
    if tail.reason_attribute.as_deref() == Some("") {
        errors.push(ConfigError::new(
            format!("{path}.reason_attribute"),
            "must not be empty (leave it out to record no reason)",
        ));
    }
}

/// Checks what types alone cannot: addresses, names, files, limits.
fn check(config: &Config, base_dir: &Path, broken: &HashSet<&str>, errors: &mut Vec<ConfigError>) {
    let otlp = &config.receivers.otlp;
    for (name, listener) in [("grpc", &otlp.grpc), ("http", &otlp.http)] {
        if let Some(listener) = listener {
            let path = format!("receivers.otlp.{name}");
            if listener.endpoint.parse::<SocketAddr>().is_err() {
                errors.push(ConfigError::new(
                    format!("{path}.endpoint"),
                    format!(
                        "{:?} is not an IP:port address (e.g. \"127.0.0.1:4317\")",
                        listener.endpoint
                    ),
                ));
            }
            if let Some(tls) = &listener.tls {
                if tls.client_subject_attribute.is_some() && tls.client_ca_file.is_none() {
                    errors.push(ConfigError::new(
                        format!("{path}.tls.client_subject_attribute"),
                        "needs client_ca_file: without mutual TLS there is no client certificate",
                    ));
                }
                if tls.client_subject_attribute.as_deref() == Some("") {
                    errors.push(ConfigError::new(
                        format!("{path}.tls.client_subject_attribute"),
                        "must not be empty",
                    ));
                }
                let alpn: &[&[u8]] = &[];
                if let Err(error) = crate::tls::ServerTls::new(tls, base_dir, alpn) {
                    errors.push(ConfigError::new(format!("{path}.tls"), error.to_string()));
                }
            }
            if listener.max_request_bytes == 0 {
                errors.push(ConfigError::new(
                    format!("{path}.max_request_bytes"),
                    "must be greater than 0",
                ));
            }
        }
    }
    if otlp.grpc.is_none() && otlp.http.is_none() && !broken.contains("receivers") {
        errors.push(ConfigError::new(
            "receivers.otlp",
            "no receiver is enabled: add [receivers.otlp.grpc] or [receivers.otlp.http]",
        ));
    }
    let pipeline = &config.pipeline;
    if pipeline.workers == 0 {
        errors.push(ConfigError::new("pipeline.workers", "must be at least 1"));
    }
    if pipeline.queue_capacity == 0 {
        errors.push(ConfigError::new(
            "pipeline.queue_capacity",
            "must be at least 1",
        ));
    }
    if pipeline.memory_limit_mb == 0 || pipeline.memory_limit_mb > 1 << 20 {
        errors.push(ConfigError::new(
            "pipeline.memory_limit_mb",
            format!(
                "must be between 1 and 1048576 (1 TiB), got {}",
                pipeline.memory_limit_mb
            ),
        ));
    }
    let shutdown = &pipeline.shutdown;
    for (key, ms) in [
        ("receivers_ms", shutdown.receivers_ms),
        ("drain_ms", shutdown.drain_ms),
        ("flush_ms", shutdown.flush_ms),
    ] {
        if ms == 0 {
            errors.push(ConfigError::new(
                format!("pipeline.shutdown.{key}"),
                "must be at least 1",
            ));
        }
    }
    let mut names = HashSet::new();
    let mut tail_stage = None;
    for (i, processor) in config.processors.iter().enumerate() {
        let path = format!("processors[{i}] ({:?})", processor.name);
        if processor.name.is_empty() {
            errors.push(ConfigError::new(
                format!("{path}.name"),
                "must not be empty",
            ));
        }
        if !names.insert(processor.name.as_str()) {
            errors.push(ConfigError::new(
                format!("{path}.name"),
                "is used by another processor; names must be unique",
            ));
        }
        match processor.plugin.strip_prefix("builtin:") {
            Some(builtin) => {
                if crate::builtin::plugin(builtin).is_none() {
                    errors.push(ConfigError::new(
                        format!("{path}.plugin"),
                        format!(
                            "no built-in plugin {builtin:?}; built-ins are {}",
                            crate::builtin::names().join(", ")
                        ),
                    ));
                }
            }
            None => {
                let file = plugin_path(config, base_dir, &processor.plugin);
                if !file.is_file() {
                    errors.push(ConfigError::new(
                        format!("{path}.plugin"),
                        format!("file {} does not exist", file.display()),
                    ));
                }
            }
        }
        check_grants(
            errors,
            &format!("{path}.grants"),
            &processor.grants,
            base_dir,
        );
        if let Some(tail) = &processor.tail_sampling {
            check_tail_sampling(errors, &format!("{path}.tail_sampling"), tail);
            if let Some(first) = tail_stage.replace(i) {
                errors.push(ConfigError::new(
                    format!("{path}.tail_sampling"),
                    format!(
                        "processors[{first}] is already a tail-sampling stage; a chain has at most one"
                    ),
                ));
            }
        }
        if processor.timeout_ms == 0 {
            errors.push(ConfigError::new(
                format!("{path}.timeout_ms"),
                "must be greater than 0",
            ));
        }
        if processor.memory_limit_mb == 0 || processor.memory_limit_mb > 4096 {
            errors.push(ConfigError::new(
                format!("{path}.memory_limit_mb"),
                "must be between 1 and 4096",
            ));
        }
        if processor.max_resources == 0 || processor.max_resources > 1_000_000 {
            errors.push(ConfigError::new(
                format!("{path}.max_resources"),
                "must be between 1 and 1000000",
            ));
        }
    }
    match config.admin.endpoint.parse::<SocketAddr>() {
        _ if !config.admin.enabled => {}
        Err(_) => errors.push(ConfigError::new(
            "admin.endpoint",
            format!(
                "{:?} is not an IP:port address (e.g. \"127.0.0.1:8888\")",
                config.admin.endpoint
            ),
        )),
        Ok(address) if !address.ip().is_loopback() && config.admin.token.is_none() => {
            errors.push(ConfigError::new(
                "admin.endpoint",
                format!(
                    "{address} is reachable from other machines, and the admin server shows \
                     live spans and reloads the pipeline: set admin.token (\"${{env:NAME}}\" \
                     or \"${{file:PATH}}\") or bind a loopback address"
                ),
            ));
        }
        Ok(_) => {}
    }
    if let Some(auth) = &otlp.auth
        && auth.tokens().next().is_none()
        && !auth.bearer_tokens.iter().any(|t| t.expose().is_empty())
    {
        errors.push(ConfigError::new(
            "receivers.otlp.auth.bearer_tokens",
            "no token: list at least one \"${env:NAME}\" or \"${file:PATH}\"",
        ));
    }
    if config.exporters.is_empty() && !broken.contains("exporters") {
        errors.push(ConfigError::new(
            "exporters",
            "no exporter is configured: add at least one [exporters.NAME]",
        ));
    }
    for (name, exporter) in &config.exporters {
        let path = format!("exporters.{name}");
        if let ExporterConfig::Otlp(c) | ExporterConfig::Otlphttp(c) = exporter {
            match c.endpoint.parse::<http::Uri>() {
                Ok(uri) if uri.scheme_str() == Some("http") && uri.authority().is_some() => {
                    if c.tls.is_some() {
                        errors.push(ConfigError::new(
                            format!("{path}.tls"),
                            "TLS settings need an https:// endpoint",
                        ));
                    }
                }
                Ok(uri) if uri.scheme_str() == Some("https") && uri.authority().is_some() => {
                    check_client_tls(errors, &path, c, base_dir);
                }
                _ => errors.push(ConfigError::new(
                    format!("{path}.endpoint"),
                    format!(
                        "{:?} is not an http:// or https://host:port URL",
                        c.endpoint
                    ),
                )),
            }
            for key in c.headers.keys() {
                if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
                    errors.push(ConfigError::new(
                        format!("{path}.headers"),
                        format!("{key:?} is not a valid header name"),
                    ));
                }
            }
        }
        let batch = exporter.batch();
        if batch.max_spans == 0 || batch.max_in_flight == 0 || batch.queue_capacity == 0 {
            errors.push(ConfigError::new(
                format!("{path}.batch"),
                "max_spans, max_in_flight and queue_capacity must be at least 1",
            ));
        }
    }
}

/// Where a processor's plugin file is, given the config's directory.
pub fn plugin_path(config: &Config, base_dir: &Path, plugin: &str) -> std::path::PathBuf {
    let file = Path::new(plugin);
    if file.is_absolute() {
        return file.to_path_buf();
    }
    match &config.pipeline.plugin_dir {
        Some(dir) if dir.is_absolute() => dir.join(file),
        Some(dir) => base_dir.join(dir).join(file),
        None => base_dir.join(file),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        match parse(text, Path::new(".")) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
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
}
