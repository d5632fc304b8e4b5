//! A real `weft` process for tests that measure it from outside: its addresses, read off its
//! start-up line, and its memory, read from `/proc`. The process is killed when the handle is
//! dropped, so a failing test leaves nothing running.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `weft` binary `cargo test --workspace` builds beside the test binaries.
pub fn weft_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("weft");
    assert!(
        binary.exists(),
        "{} is missing: this test runs the weft binary; run `cargo test --workspace` \
         (or `cargo build -p weft` first)",
        binary.display()
    );
    // `cargo test -p weft-tests` rebuilds this test binary, not `weft`'s: say so when the
    // binary is older than the test (it may then lack the change under test).
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    if let (Some(built), Some(test)) = (modified(&binary), modified(&exe))
        && built < test
    {
        eprintln!(
            "note: {} is older than this test binary; if the host changed since, run \
             `cargo build -p weft` (or `cargo test --workspace`)",
            binary.display()
        );
    }
    binary
}

/// A running `weft run`, killed on drop.
pub struct WeftProcess {
    child: Child,
    /// Its OTLP/gRPC receiver, if it has one.
    pub grpc: Option<SocketAddr>,
    /// Its OTLP/HTTP receiver.
    pub http: SocketAddr,
    /// Its admin server.
    pub admin: SocketAddr,
}

impl WeftProcess {
    /// Starts `weft run --config CONFIG` and waits (at most a minute) for its start-up line.
    pub fn spawn(config: &Path) -> WeftProcess {
        let mut child = Command::new(weft_binary())
            .args(["run", "--log-format", "json", "--config"])
            .arg(config)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut line = String::new();
        while Instant::now() < deadline {
            line.clear();
            if stderr.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if line.contains("Weft is running.") {
                let log: serde_json::Value = serde_json::from_str(&line).unwrap();
                let optional = |field: &str| -> Option<SocketAddr> {
                    let text = log["fields"][field].as_str().unwrap_or_default();
                    let text = text.trim_start_matches("Some(").trim_end_matches(')');
                    text.parse().ok()
                };
                let address = |field: &str| -> SocketAddr {
                    optional(field).unwrap_or_else(|| panic!("no {field} address in {line}"))
                };
                let (grpc, http, admin) = (optional("grpc"), address("http"), address("admin"));
                // Keep reading the log so weft never blocks on a full pipe.
                std::thread::spawn(move || for _ in stderr.lines() {});
                return WeftProcess {
                    child,
                    grpc,
                    http,
                    admin,
                };
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("weft did not start: {line}");
    }

    /// Kills the process with SIGKILL (no chance to flush or save anything) and reaps it.
    pub fn kill_9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `VmRSS` and `VmHWM` (peak), in MiB.
    pub fn rss_mb(&self) -> (u64, u64) {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
                / 1024
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for WeftProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
