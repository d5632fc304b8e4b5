//! `oci://` references: which registry, which repository, and which tag or digest.
//!
//! The forms are `oci://HOST[:PORT]/REPO:TAG`, `oci://HOST[:PORT]/REPO@sha256:DIGEST` and
//! `oci://HOST[:PORT]/REPO:TAG@sha256:DIGEST` (the digest decides what is loaded; the tag is
//! kept for messages). A reference without tag nor digest is refused: an implicit `latest`
//! would let a registry change what a pipeline runs without anyone choosing to.

use std::fmt;
use std::net::IpAddr;

use sha2::Digest as _;

/// What marks a plugin delivered by reference.
pub const SCHEME: &str = "oci://";

/// Whether a processor's `plugin` string is an OCI reference.
pub fn is_oci(plugin: &str) -> bool {
    plugin.starts_with(SCHEME)
}

/// Why a reference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a valid OCI reference: {reason}")]
pub struct ReferenceError {
    /// The text as written.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A content digest: `sha256:` and 64 lowercase hex digits (the only algorithm accepted).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<64 hex>`; the reason names what is wrong.
    pub fn parse(text: &str) -> Result<Digest, String> {
        let Some((algorithm, hex)) = text.split_once(':') else {
            return Err(format!(
                "digest {text:?} has no algorithm (write sha256:<64 hex digits>)"
            ));
        };
        if algorithm != "sha256" {
            return Err(format!(
                "digest algorithm {algorithm:?} is not supported, only sha256"
            ));
        }
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(format!(
                "digest {text:?} must be sha256: and 64 lowercase hex digits"
            ));
        }
        Ok(Digest(text.to_owned()))
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        let hash = sha2::Sha256::digest(bytes);
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        Digest(format!("sha256:{hex}"))
    }

    /// The hex digits, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The whole digest, `sha256:...`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed `oci://` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host` or `host:port` (an IPv6 host in brackets), lowercase.
    pub registry: String,
    /// The repository path, e.g. `team/redact`.
    pub repository: String,
    /// The tag, if one was written.
    pub tag: Option<String>,
    /// The pinned manifest digest, if one was written.
    pub digest: Option<Digest>,
}

impl Reference {
    /// Parses `text`, which must start with `oci://`.
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        let fail = |reason: String| ReferenceError {
            text: text.to_owned(),
            reason,
        };
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| fail(format!("it must start with {SCHEME}")))?;
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| fail("no repository: write oci://HOST/REPOSITORY:TAG".to_owned()))?;
        check_registry(registry).map_err(fail)?;
        let (name_tag, digest) = match path.split_once('@') {
            Some((name_tag, digest)) => (name_tag, Some(Digest::parse(digest).map_err(fail)?)),
            None => (path, None),
        };
        let (repository, tag) = match name_tag.rsplit_once(':') {
            Some((repository, tag)) => (repository, Some(tag)),
            None => (name_tag, None),
        };
        check_repository(repository).map_err(fail)?;
        if let Some(tag) = tag {
            check_tag(tag).map_err(fail)?;
        }
        if tag.is_none() && digest.is_none() {
            return Err(fail(
                "it names no tag or digest: add :TAG (e.g. :1.0) or @sha256:DIGEST".to_owned(),
            ));
        }
        Ok(Reference {
            registry: registry.to_ascii_lowercase(),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// What the manifest is fetched by: the digest when pinned, else the tag.
    pub fn manifest_reference(&self) -> &str {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.as_str(),
            (None, Some(tag)) => tag,
            (None, None) => "latest",
        }
    }

    /// `oci://HOST/REPO:TAG`, the key the cache remembers a tag's last digest under.
    pub fn tag_key(&self) -> Option<String> {
        self.tag
            .as_ref()
            .map(|tag| format!("{SCHEME}{}/{}:{tag}", self.registry, self.repository))
    }

    /// The registry host without its port (brackets kept for IPv6).
    pub fn host(&self) -> &str {
        host_of(&self.registry)
    }

    /// Whether the registry is this machine (`localhost`, `127.0.0.0/8`, `[::1]`): the only
    /// registries spoken to over plain HTTP without `insecure = true`.
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.registry)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

/// `registry` without its port.
pub fn host_of(registry: &str) -> &str {
    if registry.starts_with('[') {
        return match registry.find(']') {
            Some(end) => &registry[..=end],
            None => registry,
        };
    }
    registry.split(':').next().unwrap_or(registry)
}

/// Whether `registry` (`host[:port]`) is a loopback host.
pub fn is_loopback(registry: &str) -> bool {
    let host = host_of(registry);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Checks `host[:port]` as a registry address.
pub fn check_registry(registry: &str) -> Result<(), String> {
    if registry.is_empty() {
        return Err("no registry host: write oci://HOST/REPOSITORY:TAG".to_owned());
    }
    let host = host_of(registry);
    let port = &registry[host.len()..];
    if let Some(port) = port.strip_prefix(':') {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            return Err(format!("registry {registry:?} has an invalid port"));
        }
    } else if !port.is_empty() {
        return Err(format!("registry {registry:?} is not HOST or HOST:PORT"));
    }
    let valid = if let Some(ip) = host.strip_prefix('[') {
        ip.strip_suffix(']')
            .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
    } else {
        !host.is_empty()
            && !host.starts_with(['.', '-'])
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "registry host {host:?} is not a host name or IP address"
        ))
    }
}

/// Checks a repository path: lowercase components of letters and digits, joined inside by
/// `.`, `_` or `-`, separated by `/`.
fn check_repository(repository: &str) -> Result<(), String> {
    if repository.is_empty() {
        return Err("no repository: write oci://HOST/REPOSITORY:TAG".to_owned());
    }
    for component in repository.split('/') {
        let bytes = component.as_bytes();
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let valid = bytes.first().is_some_and(alnum)
            && bytes.last().is_some_and(alnum)
            && bytes
                .iter()
                .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err(format!(
                "repository {repository:?}: each part between `/` is lowercase letters and \
                 digits, joined inside by `.`, `_` or `-`"
            ));
        }
    }
    Ok(())
}

/// Checks a tag: up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`.
fn check_tag(tag: &str) -> Result<(), String> {
    let valid = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} must be 1 to 128 letters, digits, `_`, `.` or `-`, not starting with \
             `.` or `-`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn digest() -> Digest {
        Digest::parse(&format!("sha256:{HEX}")).unwrap()
    }

    fn error(text: &str) -> String {
        Reference::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn a_tag_reference() {
        let r = Reference::parse("oci://registry.example.com/team/redact:1.0").unwrap();
        assert_eq!(r.registry, "registry.example.com");
        assert_eq!(r.repository, "team/redact");
        assert_eq!(r.tag.as_deref(), Some("1.0"));
        assert_eq!(r.digest, None);
        assert_eq!(r.manifest_reference(), "1.0");
        assert_eq!(
            r.tag_key().as_deref(),
            Some("oci://registry.example.com/team/redact:1.0")
        );
        assert!(!r.is_loopback());
        assert_eq!(r.to_string(), "oci://registry.example.com/team/redact:1.0");
    }

    #[test]
    fn a_digest_reference_with_a_port() {
        let text = format!("oci://127.0.0.1:5000/team/redact@sha256:{HEX}");
        let r = Reference::parse(&text).unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.host(), "127.0.0.1");
        assert_eq!(r.tag, None);
        assert_eq!(r.digest, Some(digest()));
        assert_eq!(r.manifest_reference(), format!("sha256:{HEX}"));
        assert_eq!(r.tag_key(), None);
        assert!(r.is_loopback());
        assert_eq!(r.to_string(), text);
    }

    #[test]
    fn a_tag_and_a_digest_the_digest_decides() {
        let text = format!("oci://[::1]:5000/redact:v2.1-rc_1@sha256:{HEX}");
        let r = Reference::parse(&text).unwrap();
        assert_eq!(r.registry, "[::1]:5000");
        assert_eq!(r.host(), "[::1]");
        assert_eq!(r.tag.as_deref(), Some("v2.1-rc_1"));
        assert_eq!(r.manifest_reference(), format!("sha256:{HEX}"));
        assert!(r.is_loopback());
        assert_eq!(r.to_string(), text);
    }

    #[test]
    fn loopback_hosts_are_only_this_machine() {
        for registry in [
            "localhost",
            "LOCALHOST:5000",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]",
        ] {
            assert!(is_loopback(registry), "{registry}");
        }
        for registry in ["localhost.example.com", "10.0.0.1:5000", "[::2]", "ghcr.io"] {
            assert!(!is_loopback(registry), "{registry}");
        }
    }

    #[test]
    fn the_host_is_lowercased_the_repository_must_be_lowercase() {
        let r = Reference::parse("oci://GHCR.io/org/p:1").unwrap();
        assert_eq!(r.registry, "ghcr.io");
        assert!(error("oci://ghcr.io/Org/p:1").contains("lowercase"));
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        let cases = [
            ("ghcr.io/org/p:1", "must start with oci://"),
            ("oci://ghcr.io", "no repository"),
            ("oci:///org/p:1", "no registry host"),
            ("oci://ghcr.io/", "no repository"),
            ("oci://ghcr.io/org/p", "no tag or digest"),
            ("oci://ghcr.io/org/p:", "tag \"\""),
            ("oci://ghcr.io/org/p:-x", "not starting with"),
            ("oci://ghcr.io/org//p:1", "repository"),
            ("oci://ghcr.io/org/p-:1", "repository"),
            ("oci://ghcr.io:0/org/p:1", "invalid port"),
            ("oci://ghcr.io:http/org/p:1", "invalid port"),
            ("oci://gh_cr.io/org/p:1", "not a host name"),
            ("oci://[::1/org/p:1", "not a host name"),
            ("oci://ghcr.io/org/p@sha256:abc", "64 lowercase hex"),
            ("oci://ghcr.io/org/p@sha512:abc", "only sha256"),
            ("oci://ghcr.io/org/p@abc", "no algorithm"),
        ];
        for (text, want) in cases {
            let message = error(text);
            assert!(message.contains(want), "{text}: {message}");
            assert!(message.contains(&format!("{text:?}")), "{message}");
        }
        let upper = format!("oci://ghcr.io/org/p@sha256:{}", HEX.to_uppercase());
        assert!(error(&upper).contains("lowercase hex"));
    }

    #[test]
    fn a_digest_is_the_sha256_of_the_bytes() {
        let d = Digest::of(b"abc");
        assert_eq!(
            d.as_str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.hex().len(), 64);
        assert_eq!(Digest::parse(d.as_str()), Ok(d));
    }
}
