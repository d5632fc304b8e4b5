//! `[pipeline.registries."HOST"]`: how to reach an OCI registry that `oci://` plugin
//! references name: credentials, plain HTTP, TLS. A registry without a table is spoken to
//! over HTTPS with the docker config file's credentials, if any.
//!
//! ```toml
//! [pipeline.registries."registry.example.com"]
//! username = "${env:REGISTRY_USER}"
//! password = "${env:REGISTRY_PASSWORD}"   # a reference, never the password itself
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::error::ConfigError;
use super::{ClientTlsConfig, Secret};

/// One registry's settings; the table's key is `host` or `host:port`, as in references.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// The user name (a reference or plain text). Takes precedence over the docker config.
    #[serde(default)]
    pub username: Option<String>,
    /// The password or token: `${env:NAME}` or `${file:PATH}`, never the value itself.
    #[serde(default)]
    pub password: Option<Secret>,
    /// `true`: speak plain HTTP (no TLS) to this registry. `false`: HTTPS even on
    /// localhost. Unset: HTTPS, except for `localhost`, `127.0.0.1` and `[::1]`.
    #[serde(default)]
    pub insecure: Option<bool>,
    /// TLS settings: a private CA (`ca_file`), a client certificate, `server_name`.
    #[serde(default)]
    pub tls: Option<ClientTlsConfig>,
}

/// Checks every `[pipeline.registries."HOST"]` table.
pub(super) fn check_registries(
    registries: &BTreeMap<String, RegistryConfig>,
    base_dir: &Path,
    errors: &mut Vec<ConfigError>,
) {
    for (host, registry) in registries {
        let path = format!("pipeline.registries.{host:?}");
        if let Err(reason) = crate::oci::reference::check_registry(host) {
            errors.push(ConfigError::new(
                &path,
                format!("{reason} (the key is the registry as written in oci:// references)"),
            ));
        }
        match (&registry.username, &registry.password) {
            (Some(_), None) => errors.push(ConfigError::new(
                format!("{path}.username"),
                "needs a password (\"${env:NAME}\" or \"${file:PATH}\")",
            )),
            (None, Some(_)) => errors.push(ConfigError::new(
                format!("{path}.password"),
                "needs a username",
            )),
            (Some(username), _) if username.is_empty() => {
                errors.push(ConfigError::new(
                    format!("{path}.username"),
                    "must not be empty",
                ));
            }
            _ => {}
        }
        if let Some(tls) = &registry.tls {
            if registry.insecure == Some(true) {
                errors.push(ConfigError::new(
                    format!("{path}.tls"),
                    "TLS settings with insecure = true (plain HTTP): remove one of them",
                ));
            }
            if let Err(error) =
                crate::tls::https_connector(Some(tls), base_dir, crate::tls::Alpn::Http1)
            {
                errors.push(ConfigError::new(format!("{path}.tls"), error.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::LoadedConfig;

    fn errors(text: &str) -> String {
        let text = format!(
            "[receivers.otlp.http]\nendpoint = \"127.0.0.1:0\"\n[exporters.out]\ntype = \"stdout\"\n{text}"
        );
        match LoadedConfig::from_str(&text, ".".into(), "test".into()) {
            Ok(_) => String::new(),
            Err(errors) => errors.to_string(),
        }
    }

    #[test]
    fn a_registry_with_referenced_credentials_is_accepted() {
        let text = "[pipeline.registries.\"127.0.0.1:5000\"]\nusername = \"ci\"\npassword = \"${env:PATH}\"\ninsecure = true\n";
        assert_eq!(errors(text), "");
    }

    #[test]
    fn bad_registry_tables_are_refused_with_their_path() {
        let written = errors(
            "[pipeline.registries.\"r.example.com\"]\nusername = \"u\"\npassword = \"hunter22\"\n",
        );
        assert!(
            written.contains("pipeline.registries.r.example.com.password"),
            "{written}"
        );
        assert!(written.contains("not the credential itself"), "{written}");
        assert!(!written.contains("hunter22"), "{written}");

        let lonely = errors("[pipeline.registries.\"r.example.com\"]\nusername = \"u\"\n");
        assert!(lonely.contains("needs a password"), "{lonely}");

        let host = errors("[pipeline.registries.\"https://r.example.com\"]\ninsecure = true\n");
        assert!(host.contains("the key is the registry"), "{host}");

        let both = errors(
            "[pipeline.registries.\"r.example.com\"]\ninsecure = true\n[pipeline.registries.\"r.example.com\".tls]\nserver_name = \"r\"\n",
        );
        assert!(both.contains("remove one of them"), "{both}");

        let unknown = errors("[pipeline.registries.\"r.example.com\"]\nuser = \"u\"\n");
        assert!(unknown.contains("unknown field"), "{unknown}");
    }
}
