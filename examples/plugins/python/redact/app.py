"""A PII-redacting span processor for Weft, in Python.

Masks email addresses and US social security numbers in string attributes of spans and
span events, using only the WIT bindings, the standard library and `weft_packed` (the
packed-layout reader in `sdk/python`).

Config (the processor's `config` table in weft.toml):
    replacement = "[REDACTED]"     # optional; default "[REDACTED:<kind>]"
"""

import json
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import common, traces
from weft_packed import Packed

# Patterns run on the UTF-8 bytes of each value, straight out of the batch arena.
PATTERNS = [
    ("email", re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    ("ssn", re.compile(rb"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")),
]


# Where a match of PATTERNS can be: at an `@`, or at the first `-` of an SSN-shaped run. Each
# starts with a literal byte, which Python's `re` finds fast, and consumes one byte, so a run
# that straddles two values cannot hide a match after it.
PREFILTERS = [re.compile(rb"@"), re.compile(rb"-(?=\d\d-\d{4})")]


def redact(raw: bytes, replacement) -> bytes | None:
    """The value with every match masked, or None when nothing matched."""
    changed = raw
    # Cheap prefilters: skip the regular expressions for values that cannot match.
    if b"@" in raw:
        changed = PATTERNS[0][1].sub(replacement(b"email"), changed)
    if b"-" in raw:
        changed = PATTERNS[1][1].sub(replacement(b"ssn"), changed)
    return None if changed is raw or changed == raw else changed


# The mask for each kind of match. Module state: componentize-py may create a new
# `SpanProcessor` object for each call, so settings from `init` live here.
replacement = lambda kind: b"[REDACTED:" + kind + b"]"  # noqa: E731


class SpanProcessor(exports.SpanProcessor):
    def init(self, config: str) -> traces.Interest:
        global replacement
        settings = json.loads(config or "{}")
        unknown = set(settings) - {"replacement"}
        if unknown:
            raise Err(f"invalid config: unknown key(s) {sorted(unknown)}; expected `replacement`")
        fixed = settings.get("replacement")
        if fixed is not None and not isinstance(fixed, str):
            raise Err("invalid config at `replacement`: expected a string")
        if fixed is not None:
            encoded = fixed.encode()
            replacement = lambda kind: encoded  # noqa: E731
        # Read string attributes of spans and events, nothing else, packed into one byte list.
        return traces.Interest(
            span_fields=traces.SpanFields.EVENTS | traces.SpanFields.PACKED,
            span_attributes=common.AttributeSelection_Strings(),
            event_attributes=common.AttributeSelection_Strings(),
            link_attributes=common.AttributeSelection_None_(),
            resource_attributes=common.AttributeSelection_None_(),
            scope_attributes=common.AttributeSelection_None_(),
        )

    def process(self, batch: traces.Batch) -> list[traces.Edit]:
        # The batch arrives packed (see `init`): find the bytes that can start a match in the
        # whole arena at once, then look only at the attributes holding them.
        view = Packed(batch)
        positions = sorted(m.start() for p in PREFILTERS for m in p.finditer(view.arena))
        edits: list[traces.Edit] = []
        for i in view.attributes_at(positions):
            masked = redact(view.raw(i), replacement)
            if masked is not None:
                value = common.Value_Str(masked.decode("utf-8", "replace"))
                edits.append(traces.Edit_SetAttribute((view.target(i), view.key(i), value)))
        return edits
