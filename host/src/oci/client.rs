//! A small client for the OCI distribution API over hyper: one registry, its scheme, its
//! credentials, and the authentication dance (a `401` with a Basic or Bearer challenge is
//! answered once, and the answer reused for the following requests). Every request has a
//! deadline and every body a size cap; redirects of `GET`/`HEAD` (blob storage) are
//! followed without the registry's credentials when they leave its host.

use std::path::PathBuf;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{AUTHORIZATION, CONTENT_LENGTH, USER_AGENT, WWW_AUTHENTICATE};
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::time::Instant;

use super::auth::{Challenge, Credentials, token_from_answer};
use super::error::{OciError, registry_message};
pub use super::transport::{Answer, BLOB_TIMEOUT, Call, REQUEST_TIMEOUT, SMALL_BODY, resolve};
use super::transport::{authority, plain_connector};
use crate::config::ClientTlsConfig;
use crate::tls::{Alpn, HttpsConnector, https_connector};

/// Redirects followed for one request.
const MAX_REDIRECTS: usize = 5;

/// How to speak to one registry.
#[derive(Debug, Clone, Default)]
pub struct RegistrySettings {
    /// `http://` instead of `https://`.
    pub plain_http: bool,
    /// The username and password, if any.
    pub credentials: Option<Credentials>,
    /// Where the credentials came from, for messages.
    pub credentials_from: Option<String>,
    /// TLS settings (a private CA, a client certificate).
    pub tls: Option<ClientTlsConfig>,
    /// What relative TLS file paths resolve against.
    pub base_dir: PathBuf,
}

/// A client for one registry.
pub struct RegistryClient {
    http: Client<HttpsConnector, Full<Bytes>>,
    registry: String,
    settings: RegistrySettings,
    authorization: Option<String>,
}

impl RegistryClient {
    /// A client for `registry` (`host[:port]`).
    pub fn new(registry: &str, settings: RegistrySettings) -> Result<RegistryClient, OciError> {
        let connector =
            match https_connector(settings.tls.as_ref(), &settings.base_dir, Alpn::Http1) {
                Ok(connector) => connector,
                Err(error) if settings.plain_http => plain_connector(&error.to_string())?,
                Err(error) => {
                    return Err(OciError::Local(format!(
                        "TLS for registry {registry}: {error}"
                    )));
                }
            };
        Ok(RegistryClient {
            http: Client::builder(TokioExecutor::new()).build(connector),
            registry: registry.to_owned(),
            settings,
            authorization: None,
        })
    }

    /// The registry's `host[:port]`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The URL of `path` (starting with `/v2/`) on the registry.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.settings.plain_http {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}{path}", self.registry)
    }

    /// Sends `method url`, authenticating once on a `401` and following redirects.
    pub async fn send(
        &mut self,
        method: Method,
        url: &str,
        call: &Call,
    ) -> Result<Answer, OciError> {
        let started = Instant::now();
        let mut url = url.to_owned();
        let (mut authenticated, mut redirects) = (false, 0);
        loop {
            let on_registry =
                authority(&url).is_some_and(|a| a.eq_ignore_ascii_case(&self.registry));
            let authorization = self.authorization.clone().filter(|_| on_registry);
            let left = call.deadline.saturating_sub(started.elapsed());
            let answer = self.once(&method, &url, call, authorization, left).await?;
            if answer.status == StatusCode::UNAUTHORIZED && on_registry && !authenticated {
                authenticated = true;
                self.authorization = Some(self.authorize(&answer).await?);
                continue;
            }
            let follows =
                answer.status.is_redirection() && matches!(method, Method::GET | Method::HEAD);
            if let (true, Some(location)) = (follows, answer.header("location")) {
                if redirects == MAX_REDIRECTS {
                    return Err(self.unreachable(format!("more than {MAX_REDIRECTS} redirects")));
                }
                redirects += 1;
                url = resolve(&url, location);
                continue;
            }
            return Ok(answer);
        }
    }

    /// One exchange, without authentication retries or redirects.
    async fn once(
        &self,
        method: &Method,
        url: &str,
        call: &Call,
        authorization: Option<String>,
        deadline: Duration,
    ) -> Result<Answer, OciError> {
        let uri: Uri = url
            .parse()
            .map_err(|e| self.unreachable(format!("bad URL {url:?}: {e}")))?;
        let mut request = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(USER_AGENT, concat!("weft/", env!("CARGO_PKG_VERSION")));
        for (name, value) in &call.headers {
            request = request.header(*name, value.as_str());
        }
        if let Some(authorization) = authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        let request = request
            .body(Full::new(call.body.clone()))
            .map_err(|e| OciError::Local(format!("building a request to {url}: {e}")))?;
        let started = Instant::now();
        let wait = deadline.min(REQUEST_TIMEOUT);
        let response = match tokio::time::timeout(wait, self.http.request(request)).await {
            Err(_) => {
                return Err(self.unreachable(format!("no answer within {} s", wait.as_secs())));
            }
            Ok(Err(error)) => return Err(self.unreachable(self.describe(&error))),
            Ok(Ok(response)) => response,
        };
        let (parts, body) = response.into_parts();
        let body = if *method == Method::HEAD {
            Bytes::new()
        } else {
            let left = deadline.saturating_sub(started.elapsed());
            self.read(body, &parts.headers, call.limit, left).await?
        };
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Reads a body of at most `limit` bytes, each chunk within [`REQUEST_TIMEOUT`], all
    /// within `deadline`.
    async fn read(
        &self,
        mut body: hyper::body::Incoming,
        headers: &HeaderMap,
        limit: usize,
        deadline: Duration,
    ) -> Result<Bytes, OciError> {
        let announced = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if announced.is_some_and(|n| n > limit as u64) {
            return Err(OciError::TooLarge {
                what: "answer".into(),
                limit,
            });
        }
        let end = Instant::now() + deadline;
        let mut out = BytesMut::new();
        loop {
            let wait = end
                .saturating_duration_since(Instant::now())
                .min(REQUEST_TIMEOUT);
            let frame = match tokio::time::timeout(wait, body.frame()).await {
                Err(_) => return Err(self.unreachable("the answer stalled".into())),
                Ok(None) => break,
                Ok(Some(Err(error))) => {
                    return Err(self.unreachable(format!("reading the answer: {error}")));
                }
                Ok(Some(Ok(frame))) => frame,
            };
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > limit {
                    return Err(OciError::TooLarge {
                        what: "answer".into(),
                        limit,
                    });
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(out.freeze())
    }

    /// The `authorization` value a `401` asks for.
    async fn authorize(&self, answer: &Answer) -> Result<String, OciError> {
        let header = answer.header(WWW_AUTHENTICATE.as_str()).unwrap_or_default();
        let refused = |reason: String| OciError::Unauthorized {
            registry: self.registry.clone(),
            reason,
        };
        let Some(challenge) = Challenge::parse(header) else {
            return Err(refused(format!(
                "it asks for an authentication Weft does not speak ({header:?})"
            )));
        };
        match challenge {
            Challenge::Basic => self
                .settings
                .credentials
                .as_ref()
                .map(Credentials::basic)
                .ok_or_else(|| refused(self.no_credentials())),
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => {
                let url = Challenge::token_url(&realm, service.as_deref(), scope.as_deref());
                let plain = url.starts_with("http://");
                if plain && !self.settings.plain_http {
                    return Err(refused(format!(
                        "its token service {realm} is plain HTTP; Weft sends credentials over \
                         HTTPS only to a registry spoken to over HTTPS"
                    )));
                }
                let basic = self.settings.credentials.as_ref().map(Credentials::basic);
                let answer = self
                    .once(&Method::GET, &url, &Call::default(), basic, REQUEST_TIMEOUT)
                    .await?;
                if !answer.status.is_success() {
                    let mut reason =
                        format!("its token service {realm} answered {}", answer.status);
                    if self.settings.credentials.is_none() {
                        reason = format!("{reason}; {}", self.no_credentials());
                    }
                    return Err(refused(reason));
                }
                token_from_answer(&answer.body)
                    .map(|token| format!("Bearer {token}"))
                    .ok_or_else(|| {
                        refused(format!(
                            "its token service {realm} answered without a token"
                        ))
                    })
            }
        }
    }

    /// `answer` if it is a success; else the error its status means, about `what`.
    pub fn check(&self, answer: Answer, what: &str) -> Result<Answer, OciError> {
        let status = answer.status;
        if status.is_success() {
            return Ok(answer);
        }
        let message = registry_message(&answer.body);
        let registry = self.registry.clone();
        Err(match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => OciError::Unauthorized {
                reason: match &self.settings.credentials_from {
                    Some(from) => format!("{what}: {status} {message} (credentials from {from})"),
                    None => format!("{what}: {status} {message}; {}", self.no_credentials()),
                },
                registry,
            },
            StatusCode::NOT_FOUND => OciError::NotFound {
                registry,
                what: what.to_owned(),
            },
            _ => OciError::Status {
                registry,
                what: what.to_owned(),
                status: status.as_u16(),
                message,
            },
        })
    }

    fn no_credentials(&self) -> String {
        format!(
            "no credentials for {0}: add them to the docker config file (auths.\"{0}\") or to \
             [pipeline.registries.\"{0}\"]",
            self.registry
        )
    }

    fn unreachable(&self, reason: String) -> OciError {
        OciError::Unreachable {
            registry: self.registry.clone(),
            reason,
        }
    }

    /// A transport error with its causes, and a word on plain HTTP when TLS failed.
    fn describe(&self, error: &(dyn std::error::Error + 'static)) -> String {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        let tls_failed = [
            "tls",
            "certificate",
            "corrupt message",
            "InvalidContentType",
        ]
        .iter()
        .any(|word| {
            text.to_ascii_lowercase()
                .contains(&word.to_ascii_lowercase())
        });
        if !self.settings.plain_http && tls_failed {
            text.push_str(&format!(
                " (if {0} serves plain HTTP, set insecure = true in [pipeline.registries.\"{0}\"]; \
                 without it plain HTTP is used only for localhost, 127.0.0.1 and [::1])",
                self.registry
            ));
        }
        text
    }
}
