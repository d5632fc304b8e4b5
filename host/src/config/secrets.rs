//! References to secrets in configuration strings: `${env:NAME}` and `${file:PATH}`.
//!
//! Any string of `weft.toml` (a plugin's `config` table included) may hold references; they
//! are replaced before the file is read into its types, so a token, an API key in an
//! exporter header or a redactor's `hash_key` never has to sit in the file. `$${` writes a
//! literal `${`. A `${file:...}` path is relative to the file's directory; one trailing
//! newline of the file is dropped.
//!
//! Some settings hold credentials only: they must be exactly one reference, never the value
//! itself (a token in `weft.toml` ends up in version control and in every copy of it). And
//! every value a reference produced is cut out of the configuration's error messages, which
//! `weft check` and the log print.

use std::path::Path;

use super::error::ConfigError;

/// Settings that must be a reference, never the secret itself: dotted paths, `[]` for any
/// index of a list.
const REFERENCE_ONLY: &[&str] = &["receivers.otlp.auth.bearer_tokens[]", "admin.token"];

/// What replaces a secret value in a message.
const SCRUBBED: &str = "[secret]";

/// Values too short to scrub without mangling ordinary words.
const SHORTEST_SCRUBBED: usize = 4;

/// The values references produced, to be kept out of messages.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretValues(Vec<String>);

impl std::fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretValues({} hidden)", self.0.len())
    }
}

impl SecretValues {
    /// `text` with every secret value in it replaced by `[secret]`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.0 {
            if secret.len() >= SHORTEST_SCRUBBED && out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), SCRUBBED);
            }
        }
        out
    }

    /// Adds the values `other` hides.
    pub fn extend(&mut self, other: SecretValues) {
        self.0.extend(other.0);
    }

    /// Whether no reference was expanded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Replaces the references in every string of `table`, in place. Problems (an unset
/// variable, an unreadable file, a credential written out) go to `errors` with their path.
pub(super) fn expand(
    table: &mut toml::Table,
    base_dir: &Path,
    errors: &mut Vec<ConfigError>,
) -> SecretValues {
    expand_with(table, base_dir, &|name| std::env::var(name).ok(), errors)
}

/// [`expand`], reading environment variables through `env`.
fn expand_with(
    table: &mut toml::Table,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> SecretValues {
    let mut secrets = SecretValues::default();
    for (key, value) in table.iter_mut() {
        let mut walk = Walk {
            base_dir,
            env,
            errors: &mut *errors,
            secrets: &mut secrets,
        };
        walk.value(key.clone(), value);
    }
    secrets
}

struct Walk<'a> {
    base_dir: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
    errors: &'a mut Vec<ConfigError>,
    secrets: &'a mut SecretValues,
}

impl Walk<'_> {
    fn value(&mut self, path: String, value: &mut toml::Value) {
        match value {
            toml::Value::String(text) => self.string(&path, text),
            toml::Value::Array(items) => {
                for (index, item) in items.iter_mut().enumerate() {
                    self.value(format!("{path}[{index}]"), item);
                }
            }
            toml::Value::Table(table) => {
                for (key, item) in table.iter_mut() {
                    self.value(format!("{path}.{key}"), item);
                }
            }
            _ => {}
        }
    }

    fn string(&mut self, path: &str, text: &mut String) {
        let reference_only = is_reference_only(path);
        if reference_only && !is_one_reference(text) {
            self.errors.push(ConfigError::new(
                path,
                "must be \"${env:NAME}\" or \"${file:PATH}\", not the credential itself \
                 (weft.toml ends up in version control)",
            ));
            text.clear();
            return;
        }
        if !text.contains("${") {
            return;
        }
        match substitute(text, self.base_dir, self.env) {
            Ok((expanded, values)) => {
                self.secrets.0.extend(values);
                *text = expanded;
            }
            Err(message) => {
                self.errors.push(ConfigError::new(path, message));
                text.clear();
            }
        }
    }
}

/// Whether `path` (with its indices) is one of [`REFERENCE_ONLY`].
fn is_reference_only(path: &str) -> bool {
    let mut general = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                general.push('[');
            }
            ']' => {
                in_index = false;
                general.push(']');
            }
            _ if in_index => {}
            c => general.push(c),
        }
    }
    // A registry's password, whatever the registry's key.
    let registry_password =
        general.starts_with("pipeline.registries.") && general.ends_with(".password");
    REFERENCE_ONLY.contains(&general.as_str()) || registry_password
}

/// Whether `text` is a single `${env:...}` or `${file:...}` and nothing else.
fn is_one_reference(text: &str) -> bool {
    (text.starts_with("${env:") || text.starts_with("${file:"))
        && text.ends_with('}')
        && text.matches("${").count() == 1
}

/// `text` with its references replaced, and the values they produced.
fn substitute(
    text: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, Vec<String>), String> {
    let mut out = String::with_capacity(text.len());
    let mut values = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        if rest[..at].ends_with('$') {
            // `$${`: a literal `${`.
            out.push_str(&rest[..at - 1]);
            out.push_str("${");
            rest = &rest[at + 2..];
            continue;
        }
        out.push_str(&rest[..at]);
        let body = &rest[at + 2..];
        let end = body
            .find('}')
            .ok_or("a \"${\" is never closed by \"}\" (write \"$${\" for a literal \"${\")")?;
        let value = resolve(&body[..end], base_dir, env)?;
        out.push_str(&value);
        values.push(value);
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok((out, values))
}

/// The value of one reference's body (`env:NAME` or `file:PATH`).
fn resolve(
    reference: &str,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    if let Some(name) = reference.strip_prefix("env:") {
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "\"${{env:{name}}}\": an environment variable name is letters, digits and `_`"
            ));
        }
        return env(name).ok_or_else(|| {
            format!("\"${{env:{name}}}\": the environment variable {name} is not set")
        });
    }
    if let Some(file) = reference.strip_prefix("file:") {
        let path = base_dir.join(file);
        let mut text = std::fs::read_to_string(&path)
            .map_err(|e| format!("\"${{file:{file}}}\": cannot read {}: {e}", path.display()))?;
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        return Ok(text);
    }
    Err(format!(
        "\"${{{reference}}}\" is not a reference Weft knows: use \"${{env:NAME}}\" or \
         \"${{file:PATH}}\" (or \"$${{\" for a literal \"${{\")"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test's environment: two variables.
    fn env(name: &str) -> Option<String> {
        match name {
            "WEFT_TEST_SECRET_A" => Some("s3cr3t-from-env".into()),
            "WEFT_TEST_SECRET_B" => Some("from-env".into()),
            _ => None,
        }
    }

    fn expanded(text: &str, dir: &Path) -> (Result<String, Vec<String>>, SecretValues) {
        let mut table: toml::Table = text.parse().unwrap();
        let mut errors = Vec::new();
        let secrets = expand_with(&mut table, dir, &env, &mut errors);
        if errors.is_empty() {
            let value = table["a"]["b"].as_str().unwrap_or_default().to_owned();
            (Ok(value), secrets)
        } else {
            (
                Err(errors.iter().map(ToString::to_string).collect()),
                secrets,
            )
        }
    }

    #[test]
    fn environment_and_file_references_are_replaced_anywhere_in_a_string() {
        let dir = std::env::temp_dir().join(format!("weft-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("key"), "s3cr3t-from-file\n").unwrap();
        let (value, secrets) = expanded(
            r#"a.b = "Bearer ${env:WEFT_TEST_SECRET_A} and ${file:key}, $${not:one}""#,
            &dir,
        );
        assert_eq!(
            value.unwrap(),
            "Bearer s3cr3t-from-env and s3cr3t-from-file, ${not:one}"
        );
        assert_eq!(
            secrets.scrub("header was s3cr3t-from-env"),
            "header was [secret]"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn problems_name_the_path_and_the_reference_never_a_value() {
        let dir = Path::new("/nonexistent-weft-dir");
        for (text, expected) in [
            (r#"a.b = "${env:WEFT_TEST_UNSET_VARIABLE}""#, "is not set"),
            (r#"a.b = "${env:1BAD}""#, "letters, digits"),
            (r#"a.b = "${file:missing}""#, "cannot read"),
            (r#"a.b = "${vault:x}""#, "not a reference Weft knows"),
            (r#"a.b = "${env:OPEN""#, "never closed"),
        ] {
            let (result, _) = expanded(text, dir);
            let errors = result.unwrap_err();
            assert!(errors[0].starts_with("a.b: "), "{errors:?}");
            assert!(errors[0].contains(expected), "{errors:?}");
        }
    }

    #[test]
    fn credentials_must_be_references() {
        let mut table: toml::Table = r#"
            admin.token = "hunter2-literal"
            receivers.otlp.auth.bearer_tokens = ["${env:WEFT_TEST_SECRET_B}", "literal-token"]
        "#
        .parse()
        .unwrap();
        let mut errors = Vec::new();
        expand_with(&mut table, Path::new("."), &env, &mut errors);
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            ["admin.token", "receivers.otlp.auth.bearer_tokens[1]"]
        );
        assert!(!errors.iter().any(|e| e.message.contains("literal")));
    }
}
