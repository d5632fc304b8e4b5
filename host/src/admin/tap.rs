//! `GET /api/tap`: a live tap on one processor, streamed as JSON lines.
//!
//! Query: `processor=NAME` (required), `point=before|after|diff` (default `diff`),
//! `filter=KEY=VALUE` (repeatable; every one must match a span or resource attribute),
//! `rate=N` (spans a second, default 10, at most 1000). The first line names the tap; each
//! further line is a [`TapEvent`](crate::tap::TapEvent). The stream ends when the client goes
//! away or weft shuts down.

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use crate::tap::{TapLimits, TapPoint, TapRequest, parse_filter};

use super::Admin;

/// Spans a second a tap shows when the request does not say.
const DEFAULT_RATE: u32 = 10;
/// The most spans a second one tap may ask for.
const MAX_RATE: u32 = 1000;

pub(super) async fn tap(State(admin): State<Admin>, RawQuery(query): RawQuery) -> Response {
    let mut request = match parse(query.as_deref().unwrap_or("")) {
        Ok(request) => request,
        Err(problem) => return (StatusCode::BAD_REQUEST, format!("{problem}\n")).into_response(),
    };
    request.raw = admin.tap.allow_raw;
    if request.point == TapPoint::Before && !request.raw {
        return (
            StatusCode::FORBIDDEN,
            "point=before shows spans as they enter the processor, before a redactor has \
             cleaned them; it needs admin.tap.allow_raw = true (point=after and point=diff \
             show only what the processor let out)\n",
        )
            .into_response();
    }
    let processors: Vec<String> = admin
        .metrics
        .plugin_statuses()
        .into_iter()
        .map(|s| s.processor)
        .collect();
    if !processors.contains(&request.processor) {
        return (
            StatusCode::NOT_FOUND,
            format!(
                "no processor named {:?}; the chain has: {}\n",
                request.processor,
                processors.join(", ")
            ),
        )
            .into_response();
    }
    let limits = TapLimits {
        max_concurrent: admin.tap.max_concurrent,
        max_total_rate: admin.tap.max_total_rate,
    };
    let mut header = serde_json::json!({
        "tap": request.processor,
        "point": request.point,
        "filters": request.filters.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "raw": request.raw,
    });
    let (events, rate) = match admin.metrics.taps.open_within(request, limits) {
        Ok(opened) => opened,
        Err(refusal) => {
            return (StatusCode::TOO_MANY_REQUESTS, format!("{refusal}\n")).into_response();
        }
    };
    header["rate"] = rate.into();
    tracing::info!(tap = %header, "Tap opened.");
    let first = tokio_stream::once(Ok::<_, std::convert::Infallible>(line(&header)));
    let lines = ReceiverStream::new(events).map(|event| Ok(line(&event)));
    (
        [("content-type", "application/x-ndjson")],
        Body::from_stream(first.chain(lines)),
    )
        .into_response()
}

fn line(value: &impl serde::Serialize) -> Bytes {
    let mut bytes = serde_json::to_vec(value).expect("tap events serialise");
    bytes.push(b'\n');
    Bytes::from(bytes)
}

fn parse(query: &str) -> Result<TapRequest, String> {
    let mut processor = None;
    let mut point = TapPoint::Diff;
    let mut filters = Vec::new();
    let mut rate = DEFAULT_RATE;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "processor" => processor = Some(value.into_owned()),
            "point" => point = value.parse()?,
            "filter" => filters.push(parse_filter(&value)?),
            "rate" => {
                rate = value
                    .parse()
                    .ok()
                    .filter(|r| (1..=MAX_RATE).contains(r))
                    .ok_or_else(|| format!("rate {value:?} is not a number from 1 to {MAX_RATE}"))?
            }
            other => return Err(format!("unknown tap parameter {other:?}")),
        }
    }
    Ok(TapRequest {
        processor: processor.ok_or("the tap needs processor=NAME")?,
        point,
        filters,
        rate,
        raw: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_parameter_and_refuses_nonsense() {
        let request = parse(
            "processor=redact&point=before&filter=service.name%3Dcheckout&filter=a%3D&rate=5",
        )
        .unwrap();
        assert_eq!(
            request,
            TapRequest {
                processor: "redact".into(),
                point: TapPoint::Before,
                filters: vec![
                    ("service.name".into(), "checkout".into()),
                    ("a".into(), "".into())
                ],
                rate: 5,
                raw: false,
            }
        );
        assert_eq!(parse("processor=x").unwrap().point, TapPoint::Diff);
        for bad in [
            "",
            "processor=x&point=sideways",
            "processor=x&rate=0",
            "processor=x&rate=many",
            "processor=x&filter=novalue",
            "processor=x&colour=blue",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
