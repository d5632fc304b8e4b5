//! Registry credentials and challenges: where a username and password come from (the Weft
//! config's `[pipeline.registries."HOST"]`, else the docker config file), and what a `401`'s
//! `WWW-Authenticate` asks for (Basic, or a Bearer token from a token service).

use std::fmt;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A username and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({:?}, [hidden])", self.username)
    }
}

impl Credentials {
    /// The `authorization` value for Basic authentication.
    pub fn basic(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// What a registry's `WWW-Authenticate` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Send the username and password on every request.
    Basic,
    /// Get a token from `realm` (for `service` and `scope`), then send it.
    Bearer {
        /// The token service's URL.
        realm: String,
        /// The `service` parameter to pass on.
        service: Option<String>,
        /// The `scope` parameter to pass on (`repository:NAME:pull,push`).
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parses a `WWW-Authenticate` value; `None` for a scheme Weft does not speak.
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = parameters(params);
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        Some(Challenge::Bearer {
            realm: get("realm")?,
            service: get("service"),
            scope: get("scope"),
        })
    }

    /// The token service's URL with the challenge's `service` and `scope`.
    pub fn token_url(realm: &str, service: Option<&str>, scope: Option<&str>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(service) = service {
            query.append_pair("service", service);
        }
        if let Some(scope) = scope {
            query.append_pair("scope", scope);
        }
        let query = query.finish();
        match (query.is_empty(), realm.contains('?')) {
            (true, _) => realm.to_owned(),
            (false, true) => format!("{realm}&{query}"),
            (false, false) => format!("{realm}?{query}"),
        }
    }
}

/// `key="value", key=value` pairs; commas inside quotes (as in `scope="a:b:pull,push"`)
/// stay in the value.
fn parameters(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key.trim().trim_start_matches(',').trim().to_owned();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (quoted[..end].to_owned(), &quoted[end + 1..]),
                None => (quoted.to_owned(), ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (after[..end].trim().to_owned(), &after[end..]),
                None => (after.trim().to_owned(), ""),
            }
        };
        out.push((key, value));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// The token in a token service's JSON answer (`token`, or OAuth2's `access_token`).
pub fn token_from_answer(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["token", "access_token"]
        .iter()
        .find_map(|key| value[key].as_str().filter(|t| !t.is_empty()))
        .map(str::to_owned)
}

/// The docker config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub fn docker_config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
        }
    }
}

/// The credentials the docker config file holds for `registry`, if any. A file that
/// cannot be parsed, or an entry whose `auth` is not base64 `user:password`, is an error
/// naming the file (a silent anonymous pull would hide it).
pub fn docker_credentials(registry: &str) -> Result<Option<Credentials>, String> {
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    credentials_in(&text, registry).map_err(|e| format!("{}: {e}", path.display()))
}

/// [`docker_credentials`] from the file's text.
fn credentials_in(text: &str, registry: &str) -> Result<Option<Credentials>, String> {
    let config: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Some(auths) = config["auths"].as_object() else {
        return Ok(None);
    };
    // Keys are `host[:port]`, sometimes written as a URL (`https://host/v1/`).
    let entry = auths.iter().find_map(|(key, entry)| {
        let host = key
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default();
        host.eq_ignore_ascii_case(registry).then_some(entry)
    });
    let Some(entry) = entry else {
        if config["credHelpers"].get(registry).is_some() || config["credsStore"].is_string() {
            tracing::debug!(
                registry,
                "The docker config names a credential helper; Weft reads only `auths` entries."
            );
        }
        return Ok(None);
    };
    if let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) {
        let decoded = STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| format!("auths.{registry}.auth is not base64"))?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or_else(|| format!("auths.{registry}.auth is not base64 of user:password"))?;
        return Ok(Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        }));
    }
    match (entry["username"].as_str(), entry["password"].as_str()) {
        (Some(username), Some(password)) => Ok(Some(Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        })),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_parsed_with_quoted_commas() {
        let header = r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:team/redact:pull,push""#;
        assert_eq!(
            Challenge::parse(header),
            Some(Challenge::Bearer {
                realm: "https://auth.example.com/token".into(),
                service: Some("registry.example.com".into()),
                scope: Some("repository:team/redact:pull,push".into()),
            })
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="basic-realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            Challenge::parse("bearer realm=http://127.0.0.1/t, service=x"),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1/t".into(),
                service: Some("x".into()),
                scope: None
            })
        );
        assert_eq!(Challenge::parse("Bearer service=x"), None, "no realm");
        assert_eq!(Challenge::parse("Negotiate abc"), None);
    }

    #[test]
    fn token_urls_carry_service_and_scope_encoded() {
        assert_eq!(
            Challenge::token_url(
                "https://a/token",
                Some("reg"),
                Some("repository:t/r:pull,push")
            ),
            "https://a/token?service=reg&scope=repository%3At%2Fr%3Apull%2Cpush"
        );
        assert_eq!(
            Challenge::token_url("https://a/t?x=1", Some("s"), None),
            "https://a/t?x=1&service=s"
        );
        assert_eq!(
            Challenge::token_url("https://a/t", None, None),
            "https://a/t"
        );
    }

    #[test]
    fn token_answers_use_token_or_access_token() {
        assert_eq!(
            token_from_answer(br#"{"token":"t1","expires_in":60}"#).as_deref(),
            Some("t1")
        );
        assert_eq!(
            token_from_answer(br#"{"access_token":"t2"}"#).as_deref(),
            Some("t2")
        );
        assert_eq!(token_from_answer(br#"{"token":""}"#), None);
        assert_eq!(token_from_answer(b"<html>"), None);
    }

    #[test]
    fn docker_config_entries_by_host_or_url() {
        let auth = STANDARD.encode("alice:s3cret:with-colon");
        let text = format!(
            r#"{{"auths": {{"127.0.0.1:5000": {{"auth": "{auth}"}},
                "https://registry.example.com/v1/": {{"username": "bob", "password": "pw"}},
                "broken.example.com": {{"auth": "%%%"}}}}}}"#
        );
        let alice = credentials_in(&text, "127.0.0.1:5000").unwrap().unwrap();
        assert_eq!(
            (alice.username.as_str(), alice.password.as_str()),
            ("alice", "s3cret:with-colon")
        );
        assert_eq!(alice.basic(), format!("Basic {auth}"));
        let bob = credentials_in(&text, "registry.example.com")
            .unwrap()
            .unwrap();
        assert_eq!(bob.username, "bob");
        assert_eq!(credentials_in(&text, "other.example.com").unwrap(), None);
        assert!(
            credentials_in(&text, "broken.example.com")
                .unwrap_err()
                .contains("base64")
        );
        assert!(credentials_in("{", "x").is_err());
        assert!(!format!("{alice:?}").contains("s3cret"));
    }
}
