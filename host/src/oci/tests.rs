//! The client against a small in-process registry: pushes and pulls through Basic and
//! Bearer authentication, digests that do not match, and the cache standing in for a
//! registry that is gone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::auth::Credentials;
use super::cache::OciCache;
use super::client::RegistrySettings;
use super::pull::{Source, pull};
use super::push::push;
use super::*;

/// How the test registry authenticates.
#[derive(Clone, Copy, PartialEq)]
enum Auth {
    None,
    Basic,
    Bearer,
}

const USER: &str = "ci";
const PASSWORD: &str = "pa55word";
const TOKEN: &str = "t0ken-for-ci";

#[derive(Default)]
struct Store {
    blobs: HashMap<String, Bytes>,
    manifests: HashMap<String, Bytes>,
    uploads: usize,
    /// Requests seen, as `METHOD path`.
    seen: Vec<String>,
    /// Authorization headers seen on `/v2/` requests.
    authorizations: Vec<String>,
    /// Serve this instead of any manifest asked for.
    forged_manifest: Option<Bytes>,
    /// Serve this instead of any blob asked for.
    forged_blob: Option<Bytes>,
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
struct TestRegistry {
    registry: Shared,
    address: String,
    server: tokio::task::JoinHandle<()>,
}

impl TestRegistry {
    async fn start(auth: Auth) -> TestRegistry {
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

    fn reference(&self, rest: &str) -> Reference {
        Reference::parse(&format!("oci://{}/team/redact{rest}", self.address)).unwrap()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.registry.store.lock().unwrap()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn settings(credentials: bool) -> RegistrySettings {
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
fn component(fill: u8) -> Vec<u8> {
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    bytes.extend(std::iter::repeat_n(fill, 1000));
    bytes
}

fn cache(name: &str) -> OciCache {
    let dir = std::env::temp_dir().join(format!("weft-oci-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    OciCache::new(dir)
}

#[tokio::test]
async fn push_and_pull_through_the_bearer_token_flow() {
    let registry = TestRegistry::start(Auth::Bearer).await;
    let digest = push(&registry.reference(":1.0"), settings(true), &component(1))
        .await
        .unwrap();
    let pulled = pull(&registry.reference(":1.0"), settings(true), None)
        .await
        .unwrap();
    assert_eq!(pulled.bytes, component(1));
    assert_eq!(pulled.digest, digest);
    assert_eq!(pulled.source, Source::Registry);
    let pinned = registry.reference(&format!("@{digest}"));
    assert_eq!(
        pull(&pinned, settings(true), None).await.unwrap().bytes,
        component(1)
    );

    let store = registry.store();
    // One token per client (push, then each pull), each got with the Basic credentials.
    let tokens = store.seen.iter().filter(|s| *s == "GET /token").count();
    assert_eq!(tokens, 3, "{:?}", store.seen);
    assert!(
        store
            .authorizations
            .iter()
            .any(|a| a == &format!("Bearer {TOKEN}"))
    );
    assert!(
        !store.authorizations.iter().any(|a| a.starts_with("Basic")),
        "Basic sent to the registry"
    );
    // Config and component, each in one POST and one PUT; the manifest under the tag.
    assert_eq!(store.uploads, 2);
    assert_eq!(store.blobs.len(), 2);
    let manifest = Manifest::parse(&store.manifests["1.0"]).unwrap();
    assert_eq!(manifest.config.media_type, manifest::CONFIG_MEDIA_TYPE);
    assert_eq!(manifest.wasm_layer().unwrap().1, Digest::of(&component(1)));
}

use manifest::Manifest;

#[tokio::test]
async fn basic_auth_and_missing_credentials() {
    let registry = TestRegistry::start(Auth::Basic).await;
    let digest = push(&registry.reference(":2"), settings(true), &component(2))
        .await
        .unwrap();
    let pulled = pull(&registry.reference(":2"), settings(true), None)
        .await
        .unwrap();
    assert_eq!(pulled.digest, digest);
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    assert!(
        registry
            .store()
            .authorizations
            .contains(&format!("Basic {expected}"))
    );

    let error = pull(&registry.reference(":2"), settings(false), None)
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, OciError::Unauthorized { .. }), "{message}");
    assert!(
        message.contains("no credentials for 127.0.0.1:"),
        "{message}"
    );

    let bearer = TestRegistry::start(Auth::Bearer).await;
    let message = pull(&bearer.reference(":2"), settings(false), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("token service") && message.contains("401"),
        "{message}"
    );
}

#[tokio::test]
async fn wrong_digests_are_refused_naming_expected_and_actual() {
    let registry = TestRegistry::start(Auth::None).await;
    let good = push(&registry.reference(":1"), settings(false), &component(1))
        .await
        .unwrap();

    // A pinned digest the registry does not have: compared with what the tag points at.
    let wrong = Digest::of(b"something else");
    let error = pull(
        &registry.reference(&format!(":1@{wrong}")),
        settings(false),
        None,
    )
    .await
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&format!("expected {wrong}, actual {good}")),
        "{message}"
    );

    // A registry serving other bytes than the pinned digest names.
    registry.store().forged_manifest = Some(Bytes::from_static(b"{\"schemaVersion\":2}"));
    let error = pull(
        &registry.reference(&format!("@{good}")),
        settings(false),
        None,
    )
    .await
    .unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with("manifest digest mismatch"), "{message}");
    assert!(message.contains(&format!("expected {good}")), "{message}");
    registry.store().forged_manifest = None;

    // A layer whose bytes do not hash to the manifest's digest for it; nothing is cached.
    registry.store().forged_blob = Some(Bytes::from(component(9)));
    let cache = cache("forged");
    let error = pull(&registry.reference(":1"), settings(false), Some(&cache))
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, OciError::DigestMismatch { what: "layer", .. }),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "expected {}, actual {}",
            Digest::of(&component(1)),
            Digest::of(&component(9))
        )),
        "{message}"
    );
    assert_eq!(
        cache.tag(&registry.reference(":1").tag_key().unwrap()),
        None
    );
    let _ = std::fs::remove_dir_all(cache.dir());
}

#[tokio::test]
async fn the_cache_serves_pinned_digests_and_tags_whose_registry_is_gone() {
    let registry = TestRegistry::start(Auth::None).await;
    let digest = push(&registry.reference(":1"), settings(false), &component(3))
        .await
        .unwrap();
    let cache = cache("offline");
    let tag = registry.reference(":1");
    assert_eq!(
        pull(&tag, settings(false), Some(&cache))
            .await
            .unwrap()
            .source,
        Source::Registry
    );

    // Pinned and cached: the registry is not asked.
    let asked = registry.store().seen.len();
    let pinned = registry.reference(&format!("@{digest}"));
    let pulled = pull(&pinned, settings(false), Some(&cache)).await.unwrap();
    assert_eq!((pulled.source, pulled.bytes), (Source::Cache, component(3)));
    assert_eq!(registry.store().seen.len(), asked);

    // The registry gone: the tag falls back to the digest it last resolved to.
    let address = registry.address.clone();
    drop(registry);
    tokio::task::yield_now().await;
    let tag = Reference::parse(&format!("oci://{address}/team/redact:1")).unwrap();
    let pulled = pull(&tag, settings(false), Some(&cache)).await.unwrap();
    assert_eq!(
        (pulled.source, &pulled.digest),
        (Source::StaleCache, &digest)
    );
    // A tag never pulled has nothing to fall back to.
    let other = Reference::parse(&format!("oci://{address}/team/redact:2")).unwrap();
    let error = pull(&other, settings(false), Some(&cache))
        .await
        .unwrap_err();
    assert!(matches!(error, OciError::Unreachable { .. }), "{error}");
    let _ = std::fs::remove_dir_all(cache.dir());
}

#[test]
fn plain_http_only_for_loopback_or_insecure() {
    let dir = std::path::Path::new(".");
    let remote = registry_settings("registry.example.com", None, dir).unwrap();
    assert!(!remote.plain_http);
    assert!(
        registry_settings("127.0.0.1:5000", None, dir)
            .unwrap()
            .plain_http
    );
    let insecure = RegistryConfig {
        insecure: Some(true),
        ..RegistryConfig::default()
    };
    assert!(
        registry_settings("registry.example.com", Some(&insecure), dir)
            .unwrap()
            .plain_http
    );
    let strict = RegistryConfig {
        insecure: Some(false),
        ..RegistryConfig::default()
    };
    assert!(
        !registry_settings("localhost:5000", Some(&strict), dir)
            .unwrap()
            .plain_http
    );
}

#[test]
fn run_blocking_works_inside_and_outside_a_runtime() {
    assert_eq!(run_blocking(async { 1 }).unwrap(), 1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let inside = runtime.block_on(async {
        tokio::spawn(async { run_blocking(async { 2 }).unwrap() })
            .await
            .unwrap()
    });
    assert_eq!(inside, 2);
}
