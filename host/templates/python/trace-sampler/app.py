"""{{name}}: a Weft tail-sampling policy in Python.

Keeps a whole trace when one of its spans failed or when it lasted at least `slower_than_ms`;
drops every other trace. The host hands `decide` complete traces (all their spans, with names,
kinds, times and status); ask in `init` for attributes too.

Config (the policy's `config` table in weft.toml):
    slower_than_ms = 1000
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import trace_policy
from weft import Spans, interest

DEFAULTS = {"slower_than_ms": 1000}

# Module state: componentize-py may create a new `TracePolicy` object for each call, so the
# settings from `init` live here.
settings = dict(DEFAULTS)


def configure(text: str) -> dict:
    """The settings in the config's JSON text; ValueError names what is wrong."""
    loaded = json.loads(text or "{}")
    unknown = set(loaded) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"invalid config: unknown key(s) {sorted(unknown)}; expected `slower_than_ms`")
    slower = loaded.get("slower_than_ms", DEFAULTS["slower_than_ms"])
    if isinstance(slower, bool) or not isinstance(slower, int) or slower < 0:
        raise ValueError("invalid config at `slower_than_ms`: expected a whole number of milliseconds")
    return {"slower_than_ms": slower}


def verdict(spans) -> tuple[bool, str]:
    """Keep (and why) or drop one trace, given its spans (`weft.Span`s)."""
    if any(span.status.code == "error" for span in spans):
        return True, "error"
    start = min(span.start_time_unix_nano for span in spans)
    end = max(span.end_time_unix_nano for span in spans)
    if end - start >= settings["slower_than_ms"] * 1_000_000:
        return True, "slow"
    return False, ""


class TracePolicy(exports.TracePolicy):
    def init(self, config: str):
        global settings
        try:
            settings = configure(config)
        except ValueError as error:
            raise Err(str(error))
        # Names, kinds, times and status are always sent to a policy; no attribute is needed.
        return interest("times", "status", span_attributes=None, resource_attributes=None, scope_attributes=None)

    def decide(self, batch, ranges, now_unix_nano: int) -> list[trace_policy.Decision]:
        # Each range is one complete trace: a run of the batch's spans.
        spans = Spans(batch)
        decisions = []
        for trace in ranges:
            keep, reason = verdict(spans[trace.start : trace.start + trace.len])
            decisions.append(trace_policy.Decision(keep=keep, reason=reason))
        return decisions
