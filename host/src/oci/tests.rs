//! The client against a small in-process registry ([`super::test_registry`]): pushes and
//! pulls through Basic and Bearer authentication, digests that do not match, and the cache
//! standing in for a registry that is gone.

use axum::body::Bytes;
use base64::Engine as _;

use super::manifest::Manifest;
use super::pull::{Source, pull};
use super::push::push;
use super::test_registry::*;
use super::*;

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
