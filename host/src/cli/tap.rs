//! `weft tap`: watch spans pass one processor of a running weft, through its admin server.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::tap::{TapEvent, TapPoint, parse_filter};

/// The environment variable `weft tap` reads the admin server's token from.
pub const ADMIN_TOKEN_ENV: &str = "WEFT_ADMIN_TOKEN";

/// What `weft tap` was asked for. The admin token, when the server needs one, is read from
/// the `WEFT_ADMIN_TOKEN` environment variable.
#[derive(Debug, clap::Args)]
pub struct TapArgs {
    /// The processor to watch (its `name` in the config).
    #[arg(long, short)]
    pub processor: String,
    /// Show spans as they enter the processor.
    #[arg(long, conflicts_with_all = ["after", "diff"])]
    pub before: bool,
    /// Show spans as the processor leaves them.
    #[arg(long, conflicts_with = "diff")]
    pub after: bool,
    /// Show what the processor changed in each span, or that it dropped it (the default).
    #[arg(long)]
    pub diff: bool,
    /// Only spans with this span or resource attribute value, as KEY=VALUE (repeatable).
    #[arg(long, short, value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,
    /// At most this many spans a second (1 to 1000).
    #[arg(long, default_value_t = 10)]
    pub rate: u32,
    /// Stop after this many spans.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Print each span as a JSON line instead of text.
    #[arg(long)]
    pub json: bool,
    /// The admin server of the running weft.
    #[arg(long, default_value = "127.0.0.1:8888")]
    pub admin: String,
}

impl TapArgs {
    fn point(&self) -> TapPoint {
        if self.before {
            TapPoint::Before
        } else if self.after {
            TapPoint::After
        } else {
            TapPoint::Diff
        }
    }

    fn url(&self) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("processor", &self.processor);
        query.append_pair("point", self.point().as_str());
        for (key, value) in &self.filter {
            query.append_pair("filter", &format!("{key}={value}"));
        }
        query.append_pair("rate", &self.rate.to_string());
        format!("http://{}/api/tap?{}", self.admin, query.finish())
    }
}

/// Streams the tap to standard output until `--limit` spans, the end of the stream (weft shut
/// down) or an interrupt.
pub fn tap(args: TapArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(stream(args))
}

async fn stream(args: TapArgs) -> anyhow::Result<ExitCode> {
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let url = args.url();
    let mut request = http::Request::get(url);
    // From the environment, not a flag: a flag shows in every process listing.
    if let Ok(token) = std::env::var(ADMIN_TOKEN_ENV) {
        request = request.header(
            http::header::AUTHORIZATION,
            format!("Bearer {}", token.trim()),
        );
    }
    let request = request
        .body(Empty::new())
        .context("building the tap request")?;
    let response = client
        .request(request)
        .await
        .with_context(|| format!("connecting to weft's admin server at {}", args.admin))?;
    let status = response.status();
    let mut body = response.into_body();
    if !status.is_success() {
        let text = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        bail!(
            "weft refused the tap ({status}): {}",
            String::from_utf8_lossy(&text).trim()
        );
    }
    let mut pending = Vec::new();
    let mut header_seen = false;
    let mut shown = 0u64;
    let stdout = std::io::stdout();
    while let Some(frame) = body.frame().await {
        let frame = frame.context("reading the tap stream")?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        pending.extend_from_slice(data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if !header_seen {
                header_seen = true;
                let header: Value =
                    serde_json::from_slice(&line).context("reading the tap's first line")?;
                eprintln!(
                    "Tapping processor {} ({}, at most {} spans a second). Ctrl-C to stop.",
                    header["tap"], header["point"], header["rate"]
                );
                continue;
            }
            let mut out = stdout.lock();
            if args.json {
                out.write_all(&line)?;
            } else {
                let event: TapEvent =
                    serde_json::from_slice(&line).context("reading a tap event")?;
                out.write_all(render(&event).as_bytes())?;
            }
            out.flush()?;
            shown += 1;
            if args.limit.is_some_and(|limit| shown >= limit) {
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    eprintln!("weft closed the tap (it is shutting down or reloading its admin server).");
    Ok(ExitCode::SUCCESS)
}

/// One event as people read it: a header line with the span, then one line per field (or per
/// change: `~` changed, `+` added, `-` removed).
pub fn render(event: &TapEvent) -> String {
    let span = &event.span;
    let name = span.fields.get("name").cloned().unwrap_or(Value::Null);
    let mut out = String::new();
    if event.skipped > 0 {
        out.push_str(&format!(
            "({} spans not shown: this reader fell behind)\n",
            event.skipped
        ));
    }
    out.push_str(&format!(
        "{} {}  trace {}  span {}  {name}\n",
        event.point.as_str(),
        event.processor,
        span.trace_id,
        span.span_id
    ));
    match &event.changes {
        _ if event.dropped => out.push_str("  dropped: the span did not come out\n"),
        Some(changes) if changes.is_empty() => out.push_str("  unchanged\n"),
        Some(changes) => {
            for change in changes {
                let line = match (&change.before, &change.after) {
                    (Some(before), Some(after)) => {
                        format!("~ {}: {before} -> {after}", change.field)
                    }
                    (None, Some(after)) if change.before_hidden => {
                        format!("~ {}: (hidden) -> {after}", change.field)
                    }
                    (None, None) if change.before_hidden => format!("- {}", change.field),
                    (None, Some(after)) => format!("+ {}: {after}", change.field),
                    (Some(before), None) => format!("- {}: {before}", change.field),
                    (None, None) => format!("~ {}", change.field),
                };
                out.push_str(&format!("  {line}\n"));
            }
        }
        None => {
            for (field, value) in &span.fields {
                out.push_str(&format!("  {field} = {value}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tap::{FieldChange, SpanSnapshot};

    #[test]
    fn a_diff_reads_as_changed_added_and_removed_fields() {
        let event = TapEvent {
            processor: "redact".into(),
            point: TapPoint::Diff,
            span: SpanSnapshot {
                trace_id: "01".into(),
                span_id: "02".into(),
                fields: [("name".to_owned(), Value::from("checkout"))].into(),
            },
            changes: Some(vec![
                FieldChange {
                    field: "attributes.user.email".into(),
                    before: Some("a@b.example".into()),
                    after: Some("[REDACTED:email]".into()),
                    before_hidden: false,
                },
                FieldChange {
                    field: "attributes.weft.redacted".into(),
                    before: None,
                    after: Some(1.into()),
                    before_hidden: false,
                },
                FieldChange {
                    field: "attributes.password".into(),
                    before: Some("hunter2".into()),
                    after: None,
                    before_hidden: false,
                },
            ]),
            dropped: false,
            skipped: 3,
        };
        assert_eq!(
            render(&event),
            "(3 spans not shown: this reader fell behind)\n\
             diff redact  trace 01  span 02  \"checkout\"\n  \
             ~ attributes.user.email: \"a@b.example\" -> \"[REDACTED:email]\"\n  \
             + attributes.weft.redacted: 1\n  \
             - attributes.password: \"hunter2\"\n"
        );
    }
}
