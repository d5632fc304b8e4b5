"""Unit tests for the redaction logic and the processor on a packed batch, run with plain
CPython:
    python3 -m componentize_py -d ../../../../wit -w processor bindings bindings
    PYTHONPATH=bindings:../../../../sdk/python python3 -m unittest test_app
"""

import struct
import unittest
from types import SimpleNamespace

import app
from wit_world.imports import common, traces


def mask(kind: bytes) -> bytes:
    return b"[REDACTED:" + kind + b"]"


class RedactTest(unittest.TestCase):
    def test_masks_only_the_matched_part(self):
        self.assertEqual(app.redact(b"mail ann@example.com now", mask), b"mail [REDACTED:email] now")
        self.assertEqual(app.redact(b"ssn 078-05-1120", mask), b"ssn [REDACTED:ssn]")

    def test_leaves_ordinary_values_alone(self):
        for clean in [b"ord-2024-000123", b"2024-03-15T10:22:33Z", b"logo@2x", b"123-45-67890", b"000-12-3456", b"GET /cart"]:
            self.assertIsNone(app.redact(clean, mask), clean)


def packed_batch(spans):
    """A batch in the packed layout, written field by field from docs/plugin-contract.md.
    `spans` is a list of (attributes, events); attributes are (key, str or int), events are
    lists of attributes."""
    keys, arena, attribute_rows, span_rows, event_rows = [], bytearray(), [], [], []

    def attributes(items, owner_kind, owner):
        start = len(attribute_rows)
        for key, value in items:
            if key not in keys:
                keys.append(key)
            if isinstance(value, str):
                raw = value.encode()
                row = struct.pack("<IBBxxIIII8s", keys.index(key), 1, owner_kind, owner, len(arena), len(raw), 0, b"")
                arena.extend(raw)
            else:
                row = struct.pack("<IBBxxIIIIq", keys.index(key), 3, owner_kind, owner, len(arena), 0, 0, value)
            attribute_rows.append(row)
        return start, len(attribute_rows) - start

    for i, (span_attributes, events) in enumerate(spans):
        attrs = attributes(span_attributes, 2, i)
        first_event = len(event_rows)
        for event_attributes in events:
            e = attributes(event_attributes, 3, len(event_rows))
            event_rows.append(struct.pack("<Q6I", 0, i, 0, 0, e[0], e[1], 0))
        span_rows.append(
            struct.pack("<16s8s8sQQ20I", b"", b"", b"", 0, 0, *[0] * 10, *attrs, first_event, len(events), *[0] * 6)
        )
    header = struct.pack("<8I", 1, 0, 0, len(span_rows), len(event_rows), 0, len(attribute_rows), 0)
    packed = header + b"".join(span_rows + event_rows + attribute_rows)
    return SimpleNamespace(packed=packed, arena=bytes(arena), keys=keys, attributes=[])


class ProcessTest(unittest.TestCase):
    def test_masks_span_and_event_attributes_and_nothing_else(self):
        app.SpanProcessor().init("{}")
        batch = packed_batch(
            [
                ([("order.id", "ord-2024-000123"), ("user.email", "ann@example.com")], []),
                ([("n", 5), ("note", "x-1")], [[("exception.message", "bad 078-05-1120 here")]]),
                ([("a", "end@"), ("b", "x.org")], [[], [("m", "mail bob@example.org")]]),
            ]
        )
        edits = app.SpanProcessor().process(batch)
        found = [(e.value[0], e.value[1], e.value[2].value) for e in edits]
        self.assertEqual(
            found,
            [
                (traces.Target_Span(0), "user.email", "[REDACTED:email]"),
                (traces.Target_Event((1, 0)), "exception.message", "bad [REDACTED:ssn] here"),
                (traces.Target_Event((2, 1)), "m", "mail [REDACTED:email]"),
            ],
        )
        self.assertTrue(all(isinstance(e.value[2], common.Value_Str) for e in edits))


if __name__ == "__main__":
    unittest.main()
