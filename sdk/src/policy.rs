//! The [`TracePolicy`] trait for tail-sampling policies, the [`Trace`] view it decides on, and
//! the glue that exports a policy as a component.

use crate::{
    Batch, Decision, Interest, ProcessorError, Range, Span, StatusCode, TraceId, ValueRef,
};

/// A tail-sampling policy: decides, for one whole trace at a time, whether to keep it.
///
/// The host groups spans by trace id, holds each trace for the stage's `decision_wait`, then
/// calls [`TracePolicy::decide`] once per trace with every span buffered for it. Spans that
/// arrive after the decision follow it. Export the type with
/// [`export_trace_policy!`](crate::export_trace_policy).
///
/// ```
/// use weft_sdk::{Decision, Interest, Trace, TracePolicy};
///
/// /// Keeps traces with an error or lasting over a second.
/// struct ErrorsAndSlow;
///
/// impl TracePolicy for ErrorsAndSlow {
///     fn init(_config: &str) -> Result<Self, String> {
///         Ok(ErrorsAndSlow)
///     }
///     fn decide(&mut self, trace: &Trace<'_>, _now_unix_nano: u64) -> Result<Decision, String> {
///         Ok(if trace.has_error() {
///             Decision::keep("error")
///         } else if trace.duration_nanos() > 1_000_000_000 {
///             Decision::keep("slow")
///         } else {
///             Decision::drop("")
///         })
///     }
/// }
///
/// // In the plugin crate (a `cdylib` built for `wasm32-wasip2`):
/// // weft_sdk::export_trace_policy!(ErrorsAndSlow);
/// # use weft_sdk::{StatusCode, testing::{BatchBuilder, traces_of, decide}};
/// # let batch = BatchBuilder::new()
/// #     .span_with("GET /", |s| s.status_code = StatusCode::Error)
/// #     .span("GET /ok")
/// #     .build();
/// # let decisions = decide(&mut ErrorsAndSlow, &batch, 0).unwrap();
/// # assert_eq!(decisions, vec![Decision::keep("error"), Decision::drop("")]);
/// ```
pub trait TracePolicy: Sized + 'static {
    /// Builds the policy from its config (JSON text; see [`parse_config`](crate::parse_config)).
    /// An error refuses the plugin, and the host reports the message.
    fn init(config: &str) -> Result<Self, String>;

    /// The attributes the policy reads. The host always sends span ids, parent ids, names,
    /// kinds, times, status and each resource's `service.name`; ask here for span, resource or
    /// event attributes beyond those. The default reads no other attribute.
    fn interest(&self) -> Interest {
        Interest::nothing()
    }

    /// Decides one complete trace. `now_unix_nano` is the host's clock at the call (for rate
    /// limits: a policy has no clock of its own). An error sends every trace of the host's call
    /// down the stage's `on_error` path.
    fn decide(&mut self, trace: &Trace<'_>, now_unix_nano: u64) -> Result<Decision, String>;
}

impl Decision {
    /// Keep every span of the trace, recording `reason` (empty for none).
    pub fn keep(reason: &str) -> Decision {
        Decision {
            keep: true,
            reason: reason.to_owned(),
        }
    }

    /// Drop every span of the trace, recording `reason` (empty for none).
    pub fn drop(reason: &str) -> Decision {
        Decision {
            keep: false,
            reason: reason.to_owned(),
        }
    }
}

/// One trace of a decision batch: the spans of `batch` in one range, with helpers for what
/// policies usually ask.
#[derive(Debug, Clone, Copy)]
pub struct Trace<'a> {
    batch: &'a Batch,
    spans: &'a [Span],
}

impl<'a> Trace<'a> {
    /// The trace whose spans are `range` of `batch.spans` (clamped to the list).
    pub fn new(batch: &'a Batch, range: Range) -> Self {
        let start = (range.start as usize).min(batch.spans.len());
        let end = (start + range.len as usize).min(batch.spans.len());
        Trace {
            batch,
            spans: &batch.spans[start..end],
        }
    }

    /// The batch the trace's spans live in: for [`Batch::text`], [`Batch::attributes`] and
    /// the other accessors.
    pub fn batch(&self) -> &'a Batch {
        self.batch
    }

    /// Every span of the trace buffered so far, in arrival order.
    pub fn spans(&self) -> &'a [Span] {
        self.spans
    }

    /// The trace id (all zero for an empty trace, which the host never sends).
    pub fn trace_id(&self) -> TraceId {
        self.spans
            .first()
            .map(|span| span.trace_id)
            .unwrap_or(TraceId { high: 0, low: 0 })
    }

    /// The root span (no parent), if it has arrived.
    pub fn root(&self) -> Option<&'a Span> {
        self.spans.iter().find(|span| span.parent_span_id == 0)
    }

    /// From the earliest start to the latest end of the trace's spans, in nanoseconds.
    pub fn duration_nanos(&self) -> u64 {
        let start = self.spans.iter().map(|s| s.start_time_unix_nano).min();
        let end = self.spans.iter().map(|s| s.end_time_unix_nano).max();
        match (start, end) {
            (Some(start), Some(end)) => end.saturating_sub(start),
            _ => 0,
        }
    }

    /// Whether any span's status is `Error`.
    pub fn has_error(&self) -> bool {
        self.spans
            .iter()
            .any(|span| span.status.code == StatusCode::Error)
    }

    /// A span's name.
    pub fn name(&self, span: &Span) -> &'a str {
        self.batch.text(span.name)
    }

    /// The `service.name` of a span's resource.
    pub fn service_name(&self, span: &Span) -> Option<&'a str> {
        self.batch.service_name(span)
    }

    /// A span attribute the policy's interest asked for.
    pub fn attribute(&self, span: &Span, key: &str) -> Option<ValueRef<'a>> {
        self.batch.attribute(span.attributes, key)
    }

    /// The span's duration, in nanoseconds.
    pub fn span_duration_nanos(span: &Span) -> u64 {
        span.end_time_unix_nano
            .saturating_sub(span.start_time_unix_nano)
    }
}

#[doc(hidden)]
pub fn init_policy_guest<P: TracePolicy>(
    state: &mut Option<P>,
    config: &str,
) -> Result<Interest, String> {
    let policy = P::init(config)?;
    let interest = policy.interest();
    *state = Some(policy);
    Ok(interest)
}

#[doc(hidden)]
pub fn decide_guest<P: TracePolicy>(
    state: &mut Option<P>,
    batch: &Batch,
    traces: &[Range],
    now_unix_nano: u64,
) -> Result<Vec<Decision>, ProcessorError> {
    let policy = state.as_mut().ok_or_else(|| ProcessorError {
        message: "decide called before init".to_owned(),
    })?;
    traces
        .iter()
        .map(|range| policy.decide(&Trace::new(batch, *range), now_unix_nano))
        .collect::<Result<_, _>>()
        .map_err(|message| ProcessorError { message })
}

/// Exports a [`TracePolicy`] type as the plugin's `trace-policy` (the `trace-sampler` world).
///
/// Use it once, at the root of a `cdylib` crate built for `wasm32-wasip2`:
///
/// ```
/// use weft_sdk::{Decision, Trace, TracePolicy};
///
/// struct KeepAll;
///
/// impl TracePolicy for KeepAll {
///     fn init(_config: &str) -> Result<Self, String> { Ok(KeepAll) }
///     fn decide(&mut self, _trace: &Trace<'_>, _now: u64) -> Result<Decision, String> {
///         Ok(Decision::keep("all"))
///     }
/// }
///
/// weft_sdk::export_trace_policy!(KeepAll);
/// ```
#[macro_export]
macro_rules! export_trace_policy {
    ($ty:ty) => {
        const _: () = {
            struct WeftPolicyGuest;

            ::std::thread_local! {
                static STATE: ::std::cell::RefCell<::std::option::Option<$ty>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }

            impl $crate::policy_bindings::exports::weft::plugin::trace_policy::Guest
                for WeftPolicyGuest
            {
                fn init(
                    config: ::std::string::String,
                ) -> ::std::result::Result<$crate::Interest, ::std::string::String> {
                    STATE.with(|state| {
                        $crate::__private::init_policy_guest::<$ty>(
                            &mut state.borrow_mut(),
                            &config,
                        )
                    })
                }

                fn decide(
                    batch: $crate::Batch,
                    traces: ::std::vec::Vec<$crate::Range>,
                    now_unix_nano: u64,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::Decision>,
                    $crate::ProcessorError,
                > {
                    STATE.with(|state| {
                        $crate::__private::decide_guest::<$ty>(
                            &mut state.borrow_mut(),
                            &batch,
                            &traces,
                            now_unix_nano,
                        )
                    })
                }
            }

            // Only a wasm build exports the component's functions (see `export_processor!`).
            #[cfg(target_arch = "wasm32")]
            $crate::policy_bindings::export_policy_bindings!(WeftPolicyGuest with_types_in $crate::policy_bindings);
        };
    };
}
