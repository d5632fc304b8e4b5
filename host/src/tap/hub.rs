//! Live taps: operators watching spans pass one processor of the running pipeline.
//!
//! Cheap when no one watches: a worker checks one atomic counter per stage. While a tap is
//! open, a worker snapshots only the spans the tap selects (its filter, then its rate), and
//! hands them over without waiting: a reader that falls behind misses spans (counted in the
//! next event it gets), the pipeline never waits for it.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::pdata::Traces;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::snapshot::{FieldChange, SpanSnapshot, matches};

/// Events a tap holds for its reader before newer ones are skipped.
const TAP_QUEUE: usize = 256;

/// Where a tap watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TapPoint {
    /// Spans as they enter the processor.
    Before,
    /// Spans as the processor leaves them.
    After,
    /// What the processor changed in each span (or that it dropped it).
    Diff,
}

impl TapPoint {
    /// The point's name, as the admin endpoint and the JSON lines spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            TapPoint::Before => "before",
            TapPoint::After => "after",
            TapPoint::Diff => "diff",
        }
    }
}

impl FromStr for TapPoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "before" => Ok(TapPoint::Before),
            "after" => Ok(TapPoint::After),
            "diff" => Ok(TapPoint::Diff),
            other => Err(format!(
                "unknown tap point {other:?}: use before, after or diff"
            )),
        }
    }
}

/// What one tap watches.
#[derive(Debug, Clone, PartialEq)]
pub struct TapRequest {
    /// The processor's name in the config.
    pub processor: String,
    /// Before it, after it, or the difference.
    pub point: TapPoint,
    /// `(attribute key, value)` pairs a span (or its resource) must all have to be shown; for
    /// `After` they are matched on the processor's output, otherwise on its input.
    pub filters: Vec<(String, String)>,
    /// At most this many spans a second.
    pub rate: u32,
    /// Whether the tap may show spans as they entered the processor (`Before`, and the
    /// before-values of `Diff`). Without it a `Diff` tap shows the span as it left, and of
    /// each change only the field and its new value.
    pub raw: bool,
}

/// What the admin server allows all taps together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TapLimits {
    /// Taps open at once.
    pub max_concurrent: usize,
    /// Spans a second, all open taps together.
    pub max_total_rate: u32,
}

/// Why a tap was not opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TapRefusal {
    /// As many taps as allowed are open.
    #[error("{0} taps are open, the most allowed (admin.tap.max_concurrent); close one first")]
    TooMany(usize),
    /// The open taps use the whole span rate.
    #[error(
        "the open taps already show {0} spans a second, the most allowed \
         (admin.tap.max_total_rate); close one or lower its rate"
    )]
    RateTaken(u32),
}

/// One span seen by a tap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TapEvent {
    /// The processor tapped.
    pub processor: String,
    /// Where.
    pub point: TapPoint,
    /// The span (for `Diff`, as it entered the processor).
    pub span: SpanSnapshot,
    /// For `Diff`: what the processor changed (empty when it changed nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<FieldChange>>,
    /// For `Diff`: the span did not come out (dropped by a verdict, or its batch by `on_error`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dropped: bool,
    /// Spans this tap selected but could not deliver since its previous event (the reader fell
    /// behind).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Every open tap of a running pipeline.
#[derive(Debug, Default)]
pub struct TapHub {
    open: AtomicUsize,
    taps: Mutex<Vec<Arc<Tap>>>,
}

#[derive(Debug)]
struct Tap {
    request: TapRequest,
    sender: mpsc::Sender<TapEvent>,
    tokens: Mutex<TokenBucket>,
    skipped: AtomicU64,
    closed: AtomicBool,
}

impl TapHub {
    /// Opens a tap within `limits`: refused when as many taps as allowed are open, and its rate
    /// cut to what the open taps leave of the total. Returns its events and the rate granted.
    pub fn open_within(
        &self,
        mut request: TapRequest,
        limits: TapLimits,
    ) -> Result<(mpsc::Receiver<TapEvent>, u32), TapRefusal> {
        let mut taps = crate::sync::lock(&self.taps);
        taps.retain(|tap| !tap.closed.load(Ordering::Relaxed) && !tap.sender.is_closed());
        if taps.len() >= limits.max_concurrent {
            return Err(TapRefusal::TooMany(taps.len()));
        }
        let used: u32 = taps.iter().map(|tap| tap.request.rate).sum();
        let left = limits.max_total_rate.saturating_sub(used);
        if left == 0 {
            return Err(TapRefusal::RateTaken(used));
        }
        request.rate = request.rate.min(left);
        let rate = request.rate;
        // Added under the same lock as the count: two taps opened at once cannot both pass.
        Ok((self.insert(&mut taps, request), rate))
    }

    /// Opens a tap; its events arrive on the receiver until it is dropped.
    pub fn open(&self, request: TapRequest) -> mpsc::Receiver<TapEvent> {
        let mut taps = crate::sync::lock(&self.taps);
        self.insert(&mut taps, request)
    }

    /// Adds a tap to `taps` (the hub's list, locked).
    fn insert(&self, taps: &mut Vec<Arc<Tap>>, request: TapRequest) -> mpsc::Receiver<TapEvent> {
        let (sender, receiver) = mpsc::channel(TAP_QUEUE);
        let rate = f64::from(request.rate.max(1));
        let tap = Arc::new(Tap {
            request,
            sender,
            tokens: Mutex::new(TokenBucket::new(rate)),
            skipped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        });
        taps.push(tap);
        self.open.store(taps.len(), Ordering::Release);
        receiver
    }

    /// Ends every open tap: its stream closes once the reader has the events already sent.
    /// Shutdown calls this first, so open taps do not hold the admin server up.
    pub fn close_all(&self) {
        let mut taps = crate::sync::lock(&self.taps);
        for tap in taps.iter() {
            tap.closed.store(true, Ordering::Relaxed);
        }
        taps.clear();
        self.open.store(0, Ordering::Release);
    }

    /// Taps open now (those whose reader went away are forgotten at the next batch).
    pub fn open_taps(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// The taps on `processor`, or `None` (one atomic load) when no one watches anything.
    pub fn watch(&self, processor: &str) -> Option<Watch> {
        if self.open.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut taps = crate::sync::lock(&self.taps);
        taps.retain(|tap| !tap.closed.load(Ordering::Relaxed) && !tap.sender.is_closed());
        self.open.store(taps.len(), Ordering::Release);
        let watching: Vec<Arc<Tap>> = taps
            .iter()
            .filter(|tap| tap.request.processor == processor)
            .cloned()
            .collect();
        (!watching.is_empty()).then_some(Watch {
            taps: watching,
            pending: Vec::new(),
        })
    }
}

/// The taps on one processor for one batch: [`Watch::before`] the processor runs,
/// [`Watch::after`] it has.
pub struct Watch {
    taps: Vec<Arc<Tap>>,
    /// What `Diff` taps selected: the tap's index, the span's raw ids, its snapshot.
    pending: Vec<(usize, SpanId, SpanSnapshot)>,
}

/// A span's trace id and span id, as OTLP bytes.
type SpanId = (Vec<u8>, Vec<u8>);

impl Watch {
    /// Shows the batch entering the processor to `Before` taps and remembers what `Diff`
    /// taps selected.
    pub fn before(&mut self, batch: &Traces) {
        for (index, tap) in self.taps.iter().enumerate() {
            match tap.request.point {
                TapPoint::Before => {
                    for (_, span) in tap.select(batch) {
                        tap.send(span, None, false);
                    }
                }
                TapPoint::Diff => {
                    let selected = tap.select(batch);
                    self.pending
                        .extend(selected.into_iter().map(|(id, span)| (index, id, span)));
                }
                TapPoint::After => {}
            }
        }
    }

    /// Shows the processor's output (`None` when the whole batch was dropped) to `After`
    /// taps, and to `Diff` taps what changed in the spans they selected.
    pub fn after(self, batch: Option<&Traces>) {
        for tap in &self.taps {
            if let (TapPoint::After, Some(batch)) = (tap.request.point, batch) {
                for (_, span) in tap.select(batch) {
                    tap.send(span, None, false);
                }
            }
        }
        if self.pending.is_empty() {
            return;
        }
        // Found by raw ids: no allocation for the spans of the batch the taps did not select.
        let mut outcomes: HashMap<(&[u8], &[u8]), Option<SpanSnapshot>> = self
            .pending
            .iter()
            .map(|(_, id, _)| ((id.0.as_slice(), id.1.as_slice()), None))
            .collect();
        let mut missing = outcomes.len();
        if let Some(batch) = batch {
            for index in 0..batch.indexed_spans() {
                if missing == 0 {
                    break;
                }
                let id = ids(batch, index);
                if let Some(slot @ None) = outcomes.get_mut(&id) {
                    *slot = Some(SpanSnapshot::of(batch, index));
                    missing -= 1;
                }
            }
        }
        for (index, id, before) in &self.pending {
            let after = &outcomes[&(id.0.as_slice(), id.1.as_slice())];
            let tap = &self.taps[*index];
            let (mut changes, dropped) = match after {
                Some(after) => (after.changes_from(before), false),
                None => (Vec::new(), true),
            };
            if tap.request.raw {
                tap.send(before.clone(), Some(changes), dropped);
                continue;
            }
            // Nothing of what entered the processor: the span as it left (its ids alone if it
            // did not), and of each change the field and its new value.
            changes.iter_mut().for_each(FieldChange::hide_before);
            let shown = after.clone().unwrap_or_else(|| before.ids_only());
            tap.send(shown, Some(changes), dropped);
        }
    }
}

impl Tap {
    /// The spans of `batch` this tap shows now: matching its filters, within its rate.
    fn select(&self, batch: &Traces) -> Vec<(SpanId, SpanSnapshot)> {
        let mut tokens = crate::sync::lock(&self.tokens);
        let mut selected = Vec::new();
        // An edited batch is compacted: every span it indexes is live.
        for index in 0..batch.indexed_spans() {
            if !tokens.available() {
                break;
            }
            let wanted = self
                .request
                .filters
                .iter()
                .all(|(key, value)| matches(batch, index, key, value));
            if wanted {
                tokens.take();
                let (trace_id, span_id) = ids(batch, index);
                let id = (trace_id.to_vec(), span_id.to_vec());
                selected.push((id, SpanSnapshot::of(batch, index)));
            }
        }
        selected
    }

    fn send(&self, span: SpanSnapshot, changes: Option<Vec<FieldChange>>, dropped: bool) {
        let skipped = self.skipped.swap(0, Ordering::Relaxed);
        let event = TapEvent {
            processor: self.request.processor.clone(),
            point: self.request.point,
            span,
            changes,
            dropped,
            skipped,
        };
        match self.sender.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.skipped.fetch_add(skipped + 1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.closed.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// Span `index`'s trace id and span id, as OTLP bytes.
fn ids(batch: &Traces, index: usize) -> (&[u8], &[u8]) {
    let span = batch.span(index);
    let storage = batch.storage();
    (storage.bytes(span.trace_id), storage.bytes(span.span_id))
}

/// `rate` tokens a second, holding at most `rate`.
#[derive(Debug)]
struct TokenBucket {
    rate: f64,
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    fn new(rate: f64) -> Self {
        TokenBucket {
            rate,
            tokens: rate,
            refilled: Instant::now(),
        }
    }

    fn available(&mut self) -> bool {
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + earned).min(self.rate);
        self.refilled = now;
        self.tokens >= 1.0
    }

    fn take(&mut self) {
        self.tokens -= 1.0;
    }
}

/// Parses `KEY=VALUE` filters as the command line and the admin endpoint take them.
pub fn parse_filter(filter: &str) -> Result<(String, String), String> {
    match filter.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!(
            "filter {filter:?} is not KEY=VALUE (for example service.name=checkout)"
        )),
    }
}

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
