//! A guest's stdout and stderr, routed to the host log line by line, tagged with the
//! processor, and rate-limited so a chatty or hostile plugin cannot flood the log. The end of
//! what the guest wrote to stderr during the current call is also kept, whatever the rate
//! limit let through, so that a trap can be reported with the guest's own account of it (an
//! interpreter's traceback, a panic message) before the wasm frames.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

use crate::contract::bindings::Level;

/// Lines per second a plugin may log through stdout and stderr together, after a burst.
const LINES_PER_SECOND: f64 = 20.0;
const BURST: f64 = 100.0;
/// Longer lines are cut.
const MAX_LINE: usize = 4096;
/// Bytes of a call's stderr kept for its error report: the end of it, where a traceback names
/// the exception. Half of the error's [`super::error::MAX_MESSAGE`], so the wasm frames after
/// it still fit.
const STDERR_KEPT: usize = 2048;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy)]
enum Which {
    Stdout,
    Stderr,
}

/// Shared by a plugin's stdout and stderr: the rate limit and what it suppressed.
#[derive(Debug)]
struct Limiter {
    tokens: f64,
    last: Instant,
    suppressed: u64,
}

/// One stream of one plugin instance.
#[derive(Clone)]
pub struct GuestLog {
    plugin: Arc<str>,
    which: Which,
    partial: Arc<Mutex<Vec<u8>>>,
    limiter: Arc<Mutex<Limiter>>,
    /// What stderr received since the current call began (its last bytes only), shared by
    /// both streams so the instance's state can read it through either.
    call_stderr: Arc<Mutex<Vec<u8>>>,
}

impl GuestLog {
    /// The stdout and stderr of one instance of `plugin`, sharing one rate limit.
    pub fn pair(plugin: Arc<str>) -> (GuestLog, GuestLog) {
        let limiter = Arc::new(Mutex::new(Limiter {
            tokens: BURST,
            last: Instant::now(),
            suppressed: 0,
        }));
        let call_stderr = Arc::new(Mutex::new(Vec::new()));
        let stream = |which| GuestLog {
            plugin: plugin.clone(),
            which,
            partial: Arc::default(),
            limiter: limiter.clone(),
            call_stderr: call_stderr.clone(),
        };
        (stream(Which::Stdout), stream(Which::Stderr))
    }

    /// Forgets the stderr of earlier calls: called as a guest call begins.
    pub fn start_call(&self) {
        self.call_stderr
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The end of what the guest wrote to stderr since [`GuestLog::start_call`]: at most
    /// [`STDERR_KEPT`] bytes, starting at a line when cut, lossily decoded, trailing
    /// whitespace trimmed. `None` when it wrote nothing but whitespace.
    pub fn call_stderr(&self) -> Option<String> {
        let kept = self.call_stderr.lock().unwrap_or_else(|p| p.into_inner());
        let mut tail = &kept[kept.len().saturating_sub(STDERR_KEPT)..];
        if tail.len() < kept.len()
            && let Some(newline) = tail.iter().position(|b| *b == b'\n')
        {
            tail = &tail[newline + 1..];
        }
        let text = String::from_utf8_lossy(tail).trim_end().to_owned();
        (!text.trim().is_empty()).then_some(text)
    }

    fn accept(&self, bytes: &[u8]) {
        if matches!(self.which, Which::Stderr) {
            let mut kept = self.call_stderr.lock().unwrap_or_else(|p| p.into_inner());
            kept.extend_from_slice(bytes);
            // Trim now and then rather than on every write; `call_stderr` takes the end.
            if kept.len() > 2 * STDERR_KEPT {
                let excess = kept.len() - STDERR_KEPT;
                kept.drain(..excess);
            }
        }
        let mut partial = self.partial.lock().unwrap_or_else(|p| p.into_inner());
        partial.extend_from_slice(bytes);
        while let Some(end) = partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = partial.drain(..=end).collect();
            self.emit(&line[..line.len() - 1]);
        }
        if partial.len() > MAX_LINE {
            let line: Vec<u8> = std::mem::take(&mut *partial);
            self.emit(&line);
        }
    }

    fn emit(&self, line: &[u8]) {
        let Some(suppressed) = self.admit() else {
            return;
        };
        let text = String::from_utf8_lossy(&line[..line.len().min(MAX_LINE)]);
        let plugin = &*self.plugin;
        match self.which {
            Which::Stdout => tracing::info!(plugin, stream = "stdout", suppressed, "{text}"),
            Which::Stderr => tracing::warn!(plugin, stream = "stderr", suppressed, "{text}"),
        }
    }

    /// Logs a line the plugin sent through `host::log`, within the same rate limit as its
    /// stdout and stderr and cut to the same length.
    pub fn host_log(&self, level: Level, message: &str) {
        let Some(suppressed) = self.admit() else {
            return;
        };
        let mut end = message.len().min(MAX_LINE);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let text = &message[..end];
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(plugin, suppressed, "{text}"),
            Level::Debug => tracing::debug!(plugin, suppressed, "{text}"),
            Level::Info => tracing::info!(plugin, suppressed, "{text}"),
            Level::Warn => tracing::warn!(plugin, suppressed, "{text}"),
            Level::Error => tracing::error!(plugin, suppressed, "{text}"),
        }
    }

    /// Takes a token for one line: `Some(lines suppressed since the last one admitted)`, or
    /// `None` (counted as suppressed) when the plugin is over its rate.
    fn admit(&self) -> Option<u64> {
        let mut limiter = self.limiter.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        limiter.tokens = (limiter.tokens
            + now.duration_since(limiter.last).as_secs_f64() * LINES_PER_SECOND)
            .min(BURST);
        limiter.last = now;
        if limiter.tokens < 1.0 {
            limiter.suppressed += 1;
            return None;
        }
        limiter.tokens -= 1.0;
        Some(std::mem::take(&mut limiter.suppressed))
    }
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for GuestLog {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.accept(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for GuestLog {
    async fn ready(&mut self) {}
}

impl AsyncWrite for GuestLog {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.accept(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_stderr_of_the_current_call_only() {
        let (stdout, stderr) = GuestLog::pair("p".into());
        stderr.accept(b"earlier call\n");
        stdout.start_call();
        assert_eq!(stdout.call_stderr(), None);
        stdout.accept(b"to stdout\n");
        stderr.accept(b"Traceback (most recent call last):\n  File \"app.py\"");
        stderr.accept(b", line 3\nValueError: bad\n\n");
        assert_eq!(
            stdout.call_stderr().as_deref(),
            Some("Traceback (most recent call last):\n  File \"app.py\", line 3\nValueError: bad")
        );
        stderr.accept(b"  \n");
        stdout.start_call();
        stderr.accept(b" \n\n");
        assert_eq!(stderr.call_stderr(), None);
    }

    #[test]
    fn keeps_the_end_of_a_long_stderr_from_a_line_start() {
        let (_, stderr) = GuestLog::pair("p".into());
        for i in 0..1000 {
            stderr.accept(format!("frame {i}\n").as_bytes());
        }
        stderr.accept(b"ValueError: the end");
        let kept = stderr.call_stderr().unwrap();
        assert!(kept.len() <= STDERR_KEPT, "{}", kept.len());
        assert!(kept.starts_with("frame "), "{kept:?}");
        assert!(kept.ends_with("frame 999\nValueError: the end"), "{kept:?}");
    }
}
