//! Delivery by reference against a real registry (the CNCF distribution registry, Debian's
//! `docker-registry`, on 127.0.0.1): `weft plugin push` publishes a fixture, weft runs it
//! by tag and by digest, a wrong digest is refused naming both, the cache starts weft after
//! the registry is gone, and a registry behind htpasswd is reached with the docker config
//! file's credentials.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use weft_tests::client::grpc_client;
use weft_tests::process::weft_binary;
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{request, string_attribute};
use weft_tests::{config_with_pipeline, fixture, free_port, scratch_dir, start_weft};

const USER: &str = "weft-ci";
const PASSWORD: &str = "s3cret-pa55";

/// A `docker-registry serve` process, killed on drop.
pub(crate) struct Registry {
    child: Child,
    address: SocketAddr,
}

impl Registry {
    /// Starts a registry storing into `dir`, behind `htpasswd` when given; waits (at most
    /// 20 s) for it to accept connections.
    pub(crate) fn start(dir: &Path, htpasswd: Option<&Path>) -> Registry {
        let address: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let auth = htpasswd.map_or(String::new(), |file| {
            format!(
                "auth:\n  htpasswd:\n    realm: weft-test\n    path: {}\n",
                file.display()
            )
        });
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: {address}\n{auth}",
            dir.join("storage").display()
        );
        let config_path = dir.join("registry.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run docker-registry ({e}): install it with \
                     `apt-get install docker-registry` (the CNCF distribution registry)"
                )
            });
        let registry = Registry { child, address };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the registry did not start: {}",
                std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    /// `oci://ADDRESS/team/redact` followed by `rest`.
    pub(crate) fn reference(&self, rest: &str) -> String {
        format!("oci://{}/team/redact{rest}", self.address)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the weft binary with `args`, the docker config in `docker_config`.
fn weft(args: &[&str], docker_config: &Path) -> Output {
    Command::new(weft_binary())
        .args(args)
        .env("DOCKER_CONFIG", docker_config)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Pushes the stamp-v1 fixture to `reference`; returns the manifest digest printed.
fn push(reference: &str, docker_config: &Path) -> String {
    let output = weft(
        &["plugin", "push", fixture("stamp-v1"), reference],
        docker_config,
    );
    assert!(output.status.success(), "push failed: {}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let digest = stdout
        .lines()
        .find_map(|line| line.strip_prefix("Digest: "))
        .unwrap_or_else(|| panic!("no digest printed: {stdout}"))
        .to_owned();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    digest
}

/// A config running `plugin` as the only processor, caching pulls in `cache`.
fn config(plugin: &str, sink: SocketAddr, cache: &Path) -> String {
    let processors = format!("[[processors]]\nname = \"redact\"\nplugin = \"{plugin}\"\n");
    config_with_pipeline(
        &processors,
        sink,
        &format!("cache_dir = {:?}", cache.display().to_string()),
    )
}

/// Starts weft in this process on `plugin`, sends ten spans, and checks they arrive stamped
/// by the fixture (`v = "1"`).
async fn runs_the_fixture(plugin: &str, cache: &Path) {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config(plugin, sink.addr(), cache)).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    client.export(request(0, 10)).await.unwrap();
    assert_eq!(
        sink.wait_for(10, Duration::from_secs(30)).await,
        10,
        "{plugin}"
    );
    for span in sink.spans() {
        assert_eq!(
            string_attribute(&span, "v"),
            Some("1"),
            "{plugin}: the plugin did not run"
        );
    }
    weft.shutdown().await;
}

/// `weft check` on a config file naming `plugin`.
fn check(dir: &Path, plugin: &str, cache: &Path, docker_config: &Path) -> Output {
    let path = dir.join("weft.toml");
    let sink: SocketAddr = "127.0.0.1:9".parse().unwrap();
    std::fs::write(&path, config(plugin, sink, cache)).unwrap();
    weft(
        &["check", "--config", path.to_str().unwrap()],
        docker_config,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_by_reference_run_by_tag_and_digest_and_start_from_the_cache_offline() {
    let dir = scratch_dir("oci");
    let (cache, no_credentials) = (dir.join("cache"), dir.join("docker-empty"));
    std::fs::create_dir_all(&no_credentials).unwrap();
    let registry = Registry::start(&dir, None);
    let tag = registry.reference(":1.0");
    let digest = push(&tag, &no_credentials);
    let pinned = registry.reference(&format!("@{digest}"));

    runs_the_fixture(&tag, &cache).await;
    runs_the_fixture(&pinned, &cache).await;
    let checked = check(&dir, &tag, &cache, &no_credentials);
    assert!(checked.status.success(), "{}", text(&checked));
    assert!(
        text(&checked).contains(&format!("{tag} = {digest}")),
        "{}",
        text(&checked)
    );

    // A pinned digest that is not what the tag serves: refused, naming both.
    let wrong = format!("sha256:{}", "0".repeat(64));
    let checked = check(
        &dir,
        &registry.reference(&format!(":1.0@{wrong}")),
        &cache,
        &no_credentials,
    );
    let output = text(&checked);
    assert!(!checked.status.success(), "{output}");
    assert!(
        output.contains(&format!("expected {wrong}, actual {digest}")),
        "{output}"
    );

    // The registry gone: the pinned digest starts from the cache, and so does the tag, on
    // the digest it last resolved to (with a warning naming it).
    drop(registry);
    runs_the_fixture(&pinned, &cache).await;
    runs_the_fixture(&tag, &cache).await;
    let checked = check(&dir, &tag, &cache, &no_credentials);
    let output = text(&checked);
    assert!(checked.status.success(), "{output}");
    assert!(
        output.contains("Registry unavailable") && output.contains(&digest),
        "{output}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_behind_basic_auth_takes_the_docker_config_credentials() {
    let dir = scratch_dir("oci-auth");
    let htpasswd = Command::new("htpasswd")
        .args(["-Bbn", USER, PASSWORD])
        .output()
        .unwrap_or_else(|e| panic!("cannot run htpasswd ({e}): install apache2-utils"));
    assert!(htpasswd.status.success());
    std::fs::write(dir.join("htpasswd"), &htpasswd.stdout).unwrap();
    let registry = Registry::start(&dir, Some(&dir.join("htpasswd")));
    let (with, without) = (dir.join("docker"), dir.join("docker-empty"));
    std::fs::create_dir_all(&with).unwrap();
    std::fs::create_dir_all(&without).unwrap();
    let auth = base64_encode(format!("{USER}:{PASSWORD}").as_bytes());
    std::fs::write(
        with.join("config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#,
            registry.address
        ),
    )
    .unwrap();
    let tag = registry.reference(":1.0");

    let refused = weft(&["plugin", "push", fixture("stamp-v1"), &tag], &without);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("no credentials for"),
        "{}",
        text(&refused)
    );

    let digest = push(&tag, &with);
    let cache = dir.join("cache");
    let checked = check(&dir, &tag, &cache, &with);
    assert!(checked.status.success(), "{}", text(&checked));
    assert!(text(&checked).contains(&digest), "{}", text(&checked));

    // Without credentials, a pull is refused (and a fresh cache has nothing to offer).
    let checked = check(&dir, &tag, &dir.join("cache-2"), &without);
    assert!(!checked.status.success());
    assert!(
        text(&checked).contains("refused access"),
        "{}",
        text(&checked)
    );
    drop(registry);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Standard base64, for the docker config's `auth`.
fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
