//! A small registry in this process for the client's tests: the distribution API's pull and
//! push endpoints over an in-memory store, behind no authentication, Basic, or a Bearer token
//! service; it records what it was asked and can serve forged manifests and blobs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::auth::Credentials;
use super::cache::OciCache;
use super::client::RegistrySettings;
use super::reference::{Digest, Reference};

/// How the test registry authenticates.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Auth {
    None,
    Basic,
    Bearer,
}

pub(super) const USER: &str = "ci";
pub(super) const PASSWORD: &str = "pa55word";
pub(super) const TOKEN: &str = "t0ken-for-ci";

#[derive(Default)]
pub(super) struct Store {
    pub(super) blobs: HashMap<String, Bytes>,
    pub(super) manifests: HashMap<String, Bytes>,
    pub(super) uploads: usize,
    /// Requests seen, as `METHOD path`.
    pub(super) seen: Vec<String>,
    /// Authorization headers seen on `/v2/` requests.
    pub(super) authorizations: Vec<String>,
    /// Serve this instead of any manifest asked for.
    pub(super) forged_manifest: Option<Bytes>,
    /// Serve this instead of any blob asked for.
    pub(super) forged_blob: Option<Bytes>,
}

struct Registry {
    auth: Auth,
    base: String,
    store: Mutex<Store>,
}

type Shared = Arc<Registry>;

fn text(status: StatusCode, body: &str) -> Response {
    (status, body.to_owned()).into_response()
}

async fn handle(
    State(registry): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let basic = Credentials {
        username: USER.into(),
        password: PASSWORD.into(),
    }
    .basic();
    let mut store = registry.store.lock().unwrap();
    store.seen.push(format!("{method} {path}"));
    if path == "/token" {
        return if authorization == basic {
            text(StatusCode::OK, &format!("{{\"token\":\"{TOKEN}\"}}"))
        } else {
            text(StatusCode::UNAUTHORIZED, "{}")
        };
    }
    store.authorizations.push(authorization.clone());
    let challenge = match registry.auth {
        Auth::None => None,
        Auth::Basic if authorization != basic => Some("Basic realm=\"test\"".to_owned()),
        Auth::Bearer if authorization != format!("Bearer {TOKEN}") => Some(format!(
            "Bearer realm=\"{}/token\",service=\"test\",scope=\"repository:team/redact:pull,push\"",
            registry.base
        )),
        _ => None,
    };
    if let Some(challenge) = challenge {
        return ([("www-authenticate", challenge)], StatusCode::UNAUTHORIZED).into_response();
    }
    let Some(rest) = path.strip_prefix("/v2/team/redact/") else {
        return text(StatusCode::NOT_FOUND, "");
    };
    match (method.as_str(), rest.split_once('/')) {
        ("POST", Some(("blobs", "uploads/"))) => {
            store.uploads += 1;
            let location = format!("/v2/team/redact/blobs/uploads/{}?_state=x", store.uploads);
            ([("location", location)], StatusCode::ACCEPTED).into_response()
        }
        ("PUT", Some(("blobs", _))) => {
            let query = uri.query().unwrap_or_default();
            let Some(digest) = query.split('&').find_map(|p| p.strip_prefix("digest=")) else {
                return text(StatusCode::BAD_REQUEST, "no digest");
            };
            if Digest::of(&body).as_str() != digest {
                return text(
                    StatusCode::BAD_REQUEST,
                    "{\"errors\":[{\"code\":\"DIGEST_INVALID\"}]}",
                );
            }
            store.blobs.insert(digest.to_owned(), body);
            StatusCode::CREATED.into_response()
        }
        ("HEAD" | "GET", Some(("blobs", digest))) => match store
            .forged_blob
            .clone()
            .or_else(|| store.blobs.get(digest).cloned())
        {
            Some(blob) if method == Method::GET => blob.into_response(),
            Some(_) => StatusCode::OK.into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        },
        ("PUT", Some(("manifests", tag))) => {
            let digest = Digest::of(&body).to_string();
            store.manifests.insert(tag.to_owned(), body.clone());
            store.manifests.insert(digest.clone(), body);
            ([("docker-content-digest", digest)], StatusCode::CREATED).into_response()
        }
        ("GET", Some(("manifests", name))) => match store
            .forged_manifest
            .clone()
            .or_else(|| store.manifests.get(name).cloned())
        {
            Some(manifest) => manifest.into_response(),
            None => text(
                StatusCode::NOT_FOUND,
                "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}",
            ),
        },
        _ => text(StatusCode::METHOD_NOT_ALLOWED, ""),
    }
}

/// A registry on 127.0.0.1; the task serving it stops when the handle is dropped.
pub(super) struct TestRegistry {
    registry: Shared,
    pub(super) address: String,
    server: tokio::task::JoinHandle<()>,
}

impl TestRegistry {
    pub(super) async fn start(auth: Auth) -> TestRegistry {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let registry = Arc::new(Registry {
            auth,
            base: format!("http://{address}"),
            store: Mutex::default(),
        });
        let app = Router::new().fallback(handle).with_state(registry.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestRegistry {
            registry,
            address,
            server,
        }
    }

    pub(super) fn reference(&self, rest: &str) -> Reference {
        Reference::parse(&format!("oci://{}/team/redact{rest}", self.address)).unwrap()
    }

    pub(super) fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.registry.store.lock().unwrap()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub(super) fn settings(credentials: bool) -> RegistrySettings {
    RegistrySettings {
        plain_http: true,
        credentials: credentials.then(|| Credentials {
            username: USER.into(),
            password: PASSWORD.into(),
        }),
        credentials_from: credentials.then(|| "the test".to_owned()),
        ..RegistrySettings::default()
    }
}

/// A minimal component header and some bytes.
pub(super) fn component(fill: u8) -> Vec<u8> {
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    bytes.extend(std::iter::repeat_n(fill, 1000));
    bytes
}

pub(super) fn cache(name: &str) -> OciCache {
    let dir = std::env::temp_dir().join(format!("weft-oci-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    OciCache::new(dir)
}
