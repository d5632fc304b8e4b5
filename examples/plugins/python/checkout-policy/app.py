"""A tail-sampling policy for Weft, in Python: keep the checkouts that failed after the
customer had paid.

No fixed menu of sampling policies can say this: it needs two spans of one trace, their
outcomes, and their order. The policy keeps a trace when a payment span succeeded and a
checkout span that ended after it failed; every other trace is dropped (add a baseline in a
rule-based stage before or after this one if you want a share of them).

Config (the stage's `config` table in weft.toml):
    payment = "charge"          # span name prefix of payment spans (default "charge")
    checkout = "POST /checkout" # span name prefix of checkout spans (default "POST /checkout")
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import trace_policy
from wit_world.imports import common, traces

# Module state: componentize-py may create a new `TracePolicy` object for each call, so the
# settings from `init` live here.
settings = {"payment": "charge", "checkout": "POST /checkout"}


def paid_then_failed(spans, name_of) -> bool:
    """Whether some payment span succeeded and a checkout span ending after it failed.

    `spans` are the trace's spans; `name_of(span)` reads a span's name.
    """
    paid_at = [
        span.end_time_unix_nano
        for span in spans
        if name_of(span).startswith(settings["payment"]) and span.status.code != traces.StatusCode.ERROR
    ]
    if not paid_at:
        return False
    first_payment = min(paid_at)
    return any(
        name_of(span).startswith(settings["checkout"])
        and span.status.code == traces.StatusCode.ERROR
        and span.end_time_unix_nano > first_payment
        for span in spans
    )


class TracePolicy(exports.TracePolicy):
    def init(self, config: str) -> traces.Interest:
        loaded = json.loads(config or "{}")
        unknown = set(loaded) - set(settings)
        if unknown:
            raise Err(f"invalid config: unknown key(s) {sorted(unknown)}; expected `payment`, `checkout`")
        for key, value in loaded.items():
            if not isinstance(value, str) or not value:
                raise Err(f"invalid config at `{key}`: expected a non-empty string (a span name prefix)")
            settings[key] = value
        # Names, status and times are always sent to a policy; no attribute is needed.
        none = common.AttributeSelection_None_()
        return traces.Interest(
            span_fields=traces.SpanFields(0),
            span_attributes=none,
            event_attributes=none,
            link_attributes=none,
            resource_attributes=none,
            scope_attributes=none,
        )

    def decide(self, batch: traces.Batch, ranges: list[traces.Range], now_unix_nano: int) -> list[trace_policy.Decision]:
        arena = batch.arena

        def name_of(span) -> str:
            return arena[span.name.offset : span.name.offset + span.name.len].decode("utf-8", "replace")

        decisions = []
        for trace in ranges:
            spans = batch.spans[trace.start : trace.start + trace.len]
            if paid_then_failed(spans, name_of):
                decisions.append(trace_policy.Decision(keep=True, reason="paid-then-failed"))
            else:
                decisions.append(trace_policy.Decision(keep=False, reason=""))
        return decisions
