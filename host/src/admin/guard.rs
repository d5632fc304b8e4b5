//! Who may use the admin server: every request passes here first.
//!
//! - **Host**: the `Host` header must name an IP address, `localhost`, or one of
//!   `admin.allowed_hosts`. A web page whose domain an attacker points at 127.0.0.1 (DNS
//!   rebinding) sends its own domain there, and is refused.
//! - **Origin**: a request a browser sends from another site carries an `Origin` that is not
//!   this server; it is refused, so no web page can post `/reload` or read a tap.
//! - **Token**: with `admin.token`, everything but `/healthz` and `/readyz` (which probes call
//!   without credentials) needs `authorization: Bearer <token>`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::BearerTokens;

/// The admin server's access rules.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Required on every endpoint but the probes, when set.
    pub tokens: Option<Arc<BearerTokens>>,
    /// Host names accepted besides IP addresses and `localhost`.
    pub allowed_hosts: Vec<String>,
}

/// Endpoints open without a token: orchestrators' probes.
const OPEN: [&str; 2] = ["/healthz", "/readyz"];

/// Checks `request` against `guard`, then serves it.
pub async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return refuse(StatusCode::BAD_REQUEST, "the request has no Host header");
    };
    if !guard.host_allowed(host) {
        return refuse(
            StatusCode::FORBIDDEN,
            &format!(
                "Host {host:?} is not an IP address, localhost or one of admin.allowed_hosts \
                 (protection against DNS rebinding)"
            ),
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN)
        && !same_origin(origin, host)
    {
        return refuse(
            StatusCode::FORBIDDEN,
            "a request from another site (its Origin is not this server) is refused",
        );
    }
    if let Some(tokens) = &guard.tokens
        && !OPEN.contains(&request.uri().path())
        && let Err(refusal) = tokens.check(authorization(headers))
    {
        let mut response = refuse(StatusCode::UNAUTHORIZED, &refusal.to_string());
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(request).await
}

impl Guard {
    fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        name.eq_ignore_ascii_case("localhost")
            || name.parse::<std::net::IpAddr>().is_ok()
            || self
                .allowed_hosts
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(name))
    }
}

/// The name of a `Host` header without its port (and an IPv6 address without brackets).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// Whether `origin` (`scheme://host[:port]`) is this server, reached as `host`.
fn same_origin(origin: &HeaderValue, host: &str) -> bool {
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

fn authorization(headers: &HeaderMap) -> Option<&[u8]> {
    headers.get(header::AUTHORIZATION).map(|v| v.as_bytes())
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, format!("{message}\n")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_ip_addresses_localhost_or_listed() {
        let guard = Guard {
            tokens: None,
            allowed_hosts: vec!["weft-admin.internal".into()],
        };
        for host in [
            "127.0.0.1:8888",
            "127.0.0.1",
            "[::1]:8888",
            "localhost:8888",
            "10.0.3.7:8888",
            "weft-admin.internal:8888",
        ] {
            assert!(guard.host_allowed(host), "{host}");
        }
        for host in ["attacker.example:8888", "localhost.attacker.example", ""] {
            assert!(!guard.host_allowed(host), "{host}");
        }
    }

    #[test]
    fn an_origin_is_the_same_only_with_the_same_authority() {
        let same =
            |origin: &str, host: &str| same_origin(&HeaderValue::from_str(origin).unwrap(), host);
        assert!(same("http://127.0.0.1:8888", "127.0.0.1:8888"));
        assert!(!same("http://127.0.0.1:9999", "127.0.0.1:8888"));
        assert!(!same("https://attacker.example", "127.0.0.1:8888"));
        assert!(!same("null", "127.0.0.1:8888"));
    }
}
