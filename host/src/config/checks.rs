//! The checks of a parsed configuration that types alone cannot make: addresses, names,
//! files, limits, one section at a time, each error with its path.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;

use super::error::ConfigError;
use super::validate::plugin_path;
use super::{Config, ExporterConfig, GrantsConfig, OtlpExporterConfig, TailSamplingConfig};

/// Checks every section of `config` (sections in `broken` did not parse: their absence is
/// not reported again).
pub(super) fn check(
    config: &Config,
    base_dir: &Path,
    broken: &HashSet<&str>,
    errors: &mut Vec<ConfigError>,
) {
    check_receivers(config, base_dir, broken, errors);
    check_pipeline(config, base_dir, errors);
    super::registries::check_registries(&config.pipeline.registries, base_dir, errors);
    check_processors(config, base_dir, errors);
    check_admin(config, errors);
    check_exporters(config, base_dir, broken, errors);
}

/// `[receivers]`: listener addresses, TLS files, limits, tokens.
fn check_receivers(
    config: &Config,
    base_dir: &Path,
    broken: &HashSet<&str>,
    errors: &mut Vec<ConfigError>,
) {
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
    if let Some(auth) = &otlp.auth
        && auth.tokens().next().is_none()
        && !auth.bearer_tokens.iter().any(|t| t.expose().is_empty())
    {
        errors.push(ConfigError::new(
            "receivers.otlp.auth.bearer_tokens",
            "no token: list at least one \"${env:NAME}\" or \"${file:PATH}\"",
        ));
    }
}

/// `[pipeline]`: workers, queue, memory, shutdown deadlines.
fn check_pipeline(config: &Config, base_dir: &Path, errors: &mut Vec<ConfigError>) {
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
    if let Some(persistence) = &pipeline.persistence {
        persistence.check(errors);
    }
    if let Some(trust) = &pipeline.trust {
        trust.check(base_dir, errors);
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
}

/// `[[processors]]`: unique names, plugins that exist, grants, tail-sampling settings, limits.
fn check_processors(config: &Config, base_dir: &Path, errors: &mut Vec<ConfigError>) {
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
            // Pulled when loaded; here only its form is checked.
            None if crate::oci::is_oci(&processor.plugin) => {
                if let Err(error) = crate::oci::Reference::parse(&processor.plugin) {
                    errors.push(ConfigError::new(
                        format!("{path}.plugin"),
                        error.to_string(),
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
}

/// `[admin]`: an address, and a token wherever other machines can reach it.
fn check_admin(config: &Config, errors: &mut Vec<ConfigError>) {
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
}

/// `[exporters]`: at least one, endpoints, TLS, headers, batch sizes.
fn check_exporters(
    config: &Config,
    base_dir: &Path,
    broken: &HashSet<&str>,
    errors: &mut Vec<ConfigError>,
) {
    if config.exporters.is_empty() && !broken.contains("exporters") {
        errors.push(ConfigError::new(
            "exporters",
            "no exporter is configured: add at least one [exporters.NAME]",
        ));
    }
    for (name, exporter) in &config.exporters {
        let path = format!("exporters.{name}");
        if let ExporterConfig::Loadbalancing(lb) = exporter {
            lb.check(&path, errors);
            if let Some(first) = lb.resolver.static_list.iter().flatten().next() {
                check_otlp(errors, &path, &lb.backend(first), base_dir);
            }
        }
        if let ExporterConfig::Otlp(c) | ExporterConfig::Otlphttp(c) = exporter {
            check_otlp(errors, &path, c, base_dir);
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

/// Checks an OTLP exporter's endpoint, TLS and headers.
fn check_otlp(errors: &mut Vec<ConfigError>, path: &str, c: &OtlpExporterConfig, base_dir: &Path) {
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
            check_client_tls(errors, path, c, base_dir);
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
