"""Unit tests of `weft` (the friendly batch view) on fake batches in both layouts, run with
plain CPython from the repository root:
    componentize-py -d wit -w processor bindings /tmp/bindings
    PYTHONPATH=/tmp/bindings:sdk/python python3 -m unittest discover -s sdk/python -p 'test_*.py'
"""

import unittest

from wit_world.imports import common, traces
from weft import Spans, interest, selection, value
from weft_testing import fake_batch

TRACE = "5b8efff798038103d269b633813fc60c"
CHECKOUT = {
    "name": "GET /cart",
    "kind": "server",
    "trace_id": TRACE,
    "span_id": "eee19b7ec3c1b174",
    "trace_state": "vendor=1",
    "start_time_unix_nano": 1_700_000_000_000_000_000,
    "end_time_unix_nano": 1_700_000_000_250_000_000,
    "status": ("error", "card declined"),
    "flags": 0x301,
    "dropped_attributes_count": 2,
    "attributes": {
        "user.email": "ann@example.com",
        "http.response.status_code": 402,
        "ratio": 0.25,
        "retry": True,
        "blob": b"\x00\xff",
        "tags": ["a", 7, ["deep"]],
        "ctx": {"region": "eu", "n": 1},
        "nothing": None,
        "ünïcode": "naïve ✓",
    },
    "events": [
        {"name": "exception", "time_unix_nano": 5, "attributes": {"exception.message": "boom"}},
        {"name": "retry"},
    ],
    "links": [{"trace_id": "00000000000000000000000000000001", "span_id": "0000000000000002",
               "trace_state": "k=v", "flags": 1, "attributes": {"link.kind": "follows"}}],
}  # fmt: skip
CHILD = {"name": "SELECT", "kind": "client", "trace_id": TRACE, "span_id": "00000000000000aa",
         "parent_span_id": "eee19b7ec3c1b174", "scope": 1, "attributes": {"db.system": "pg"}}  # fmt: skip
RESOURCES = [{"attributes": {"service.name": "checkout"}, "schema_url": "https://opentelemetry.io/schemas/1.26.0"}]
SCOPES = [{"name": "http", "version": "1.2"}, {"name": "db", "version": "0.1", "attributes": {"pool": "main"}}]


class Records(unittest.TestCase):
    """The view over a batch in the record layout; `Packed` runs every test again packed."""

    packed = False

    def spans(self, spans=(CHECKOUT, CHILD)) -> Spans:
        return Spans(fake_batch(list(spans), RESOURCES, SCOPES, packed=self.packed))

    def test_reads_span_fields_as_python_values(self):
        span, child = self.spans()
        self.assertEqual(span.name, "GET /cart")
        self.assertEqual((span.kind, child.kind), ("server", "client"))
        self.assertEqual(span.status, ("error", "card declined"))
        self.assertEqual(span.status.code, "error")
        self.assertEqual(span.trace_id, TRACE)
        self.assertEqual(span.span_id, "eee19b7ec3c1b174")
        self.assertIsNone(span.parent_span_id)
        self.assertEqual(child.parent_span_id, "eee19b7ec3c1b174")
        self.assertEqual(span.trace_state, "vendor=1")
        self.assertEqual(span.end_time_unix_nano - span.start_time_unix_nano, 250_000_000)
        self.assertEqual((span.flags, span.dropped_attributes_count), (0x301, 2))

    def test_fields_not_sent_read_as_empty(self):
        (span,) = self.spans([{}])
        self.assertEqual((span.name, span.kind, span.status), ("", "unspecified", ("unset", "")))
        self.assertEqual((span.trace_id, span.span_id), ("0" * 32, "0" * 16))
        self.assertEqual((span.events, span.links, len(span.attributes)), ([], [], 0))

    def test_attributes_read_by_name_in_every_type(self):
        attributes = self.spans()[0].attributes
        self.assertEqual(attributes.get("user.email"), "ann@example.com")
        self.assertEqual(attributes["http.response.status_code"], 402)
        self.assertIsInstance(attributes["ratio"], float)
        self.assertIs(attributes["retry"], True)
        self.assertEqual(attributes["blob"], b"\x00\xff")
        self.assertEqual(attributes["tags"], ["a", 7, ["deep"]])
        self.assertEqual(attributes["ctx"], {"region": "eu", "n": 1})
        self.assertEqual(attributes["ünïcode"], "naïve ✓")
        self.assertIn("nothing", attributes)
        self.assertIsNone(attributes["nothing"])
        self.assertNotIn("missing", attributes)
        self.assertEqual(attributes.get("missing", "default"), "default")
        with self.assertRaises(KeyError):
            attributes["missing"]
        self.assertEqual(list(attributes)[:2], ["user.email", "http.response.status_code"])
        self.assertEqual(len(attributes), 9)
        self.assertEqual(dict(attributes.items())["ratio"], 0.25)

    def test_decodes_only_what_is_read_and_only_once(self):
        spans = self.spans()
        values, texts = [], []
        read_value, read_text = spans._rows.value, spans._rows.text
        spans._rows.value = lambda a: values.append(a) or read_value(a)
        spans._rows.text = lambda piece: texts.append(piece) or read_text(piece)
        span = spans[0]
        self.assertEqual((values, texts), ([], []))
        span.attributes.get("user.email")
        span.attributes.get("user.email")
        self.assertEqual(len(values), 1)
        texts.clear()
        self.assertEqual((span.name, span.name), ("GET /cart", "GET /cart"))
        self.assertEqual(len(texts), 1)
        self.assertIs(spans[0], span)

    def test_events_links_scope_and_resource(self):
        span, child = self.spans()
        exception, retry = span.events
        self.assertEqual((exception.name, exception.time_unix_nano, retry.name), ("exception", 5, "retry"))
        self.assertEqual(exception.attributes["exception.message"], "boom")
        self.assertEqual(dict(retry.attributes), {})
        (link,) = span.links
        self.assertEqual(
            (link.trace_id, link.span_id, link.trace_state, link.flags),
            ("0" * 31 + "1", "0000000000000002", "k=v", 1),
        )
        self.assertEqual(link.attributes["link.kind"], "follows")
        self.assertEqual((span.scope.name, span.scope.version, child.scope.name), ("http", "1.2", "db"))
        self.assertEqual(child.scope.attributes["pool"], "main")
        self.assertEqual(span.resource.attributes["service.name"], "checkout")
        self.assertEqual(child.resource.schema_url, "https://opentelemetry.io/schemas/1.26.0")
        self.assertIs(span.resource, child.resource)

    def test_iterates_in_order_and_indexes_from_the_end(self):
        spans = self.spans()
        self.assertEqual([s.name for s in spans], ["GET /cart", "SELECT"])
        self.assertEqual((len(spans), spans[-1].index), (2, 1))
        self.assertEqual([s.index for s in spans[1:]], [1])
        self.assertIs(spans[:1][0], spans[0])
        with self.assertRaises(IndexError):
            spans[2]

    def test_invalid_utf8_reads_with_replacement_characters(self):
        (span,) = self.spans([{"name": b"G\xffT", "attributes": {"k": b"\xff"}}])
        self.assertEqual(span.name, "G\ufffdT")
        self.assertEqual(span.attributes["k"], b"\xff")

    def test_edits_are_recorded_in_order(self):
        spans = self.spans()
        span, child = spans
        span.rename("GET /basket")
        span.set_attribute("user.email", "[REDACTED]")
        span.remove_attribute("blob")
        span.rename_attribute("ratio", "fraction")
        span.set_status("ok")
        span.set_kind("internal")
        span.set_trace_state("")
        span.events[0].rename("error")
        span.events[1].drop()
        span.events[0].set_attribute("n", 1)
        span.links[0].remove_attribute("link.kind")
        child.scope.set_attribute("s", True)
        child.resource.set_attribute("r", 1.5)
        child.drop()
        spans.set_attribute("checked", True)
        spans.remove_attribute("tmp")
        every = traces.Target_Spans(traces.Range(0, 2))
        self.assertEqual(
            spans.edits(),
            [
                traces.Edit_SetName((0, "GET /basket")),
                traces.Edit_SetAttribute((traces.Target_Span(0), "user.email", common.Value_Str("[REDACTED]"))),
                traces.Edit_RemoveAttribute((traces.Target_Span(0), "blob")),
                traces.Edit_RenameAttribute((traces.Target_Span(0), "ratio", "fraction")),
                traces.Edit_SetStatus((0, traces.StatusCode.OK, "")),
                traces.Edit_SetKind((0, traces.SpanKind.INTERNAL)),
                traces.Edit_SetTraceState((0, "")),
                traces.Edit_SetEventName((0, 0, "error")),
                traces.Edit_DropEvent((0, 1)),
                traces.Edit_SetAttribute((traces.Target_Event((0, 0)), "n", common.Value_Int(1))),
                traces.Edit_RemoveAttribute((traces.Target_Link((0, 0)), "link.kind")),
                traces.Edit_SetAttribute((traces.Target_Scope(1), "s", common.Value_Boolean(True))),
                traces.Edit_SetAttribute((traces.Target_Resource(0), "r", common.Value_Double(1.5))),
                traces.Edit_DropSpan(1),
                traces.Edit_SetAttribute((every, "checked", common.Value_Boolean(True))),
                traces.Edit_RemoveAttribute((every, "tmp")),
            ],
        )
        # The view still shows the batch as sent.
        self.assertEqual((span.name, span.attributes["user.email"]), ("GET /cart", "ann@example.com"))

    def test_refuses_unknown_kinds_and_status_codes(self):
        span = self.spans()[0]
        with self.assertRaises(ValueError):
            span.set_kind("SERVER")
        with self.assertRaises(ValueError):
            span.set_status("failed")


class Packed(Records):
    packed = True


class Values(unittest.TestCase):
    def test_scalars(self):
        self.assertEqual(value("x"), common.Value_Str("x"))
        self.assertEqual(value(True), common.Value_Boolean(True))
        self.assertEqual(value(3), common.Value_Int(3))
        self.assertEqual(value(3.0), common.Value_Double(3.0))
        self.assertEqual(value(bytearray(b"ab")), common.Value_Bytes(b"ab"))
        self.assertEqual(value(None), common.Value_Empty())

    def test_nested_values_list_children_after_their_parent(self):
        nested = value({"a": [1, "x"], "b": {}})
        self.assertEqual(
            nested.value,
            [
                common.ValueNode_Kvlist([("a", 1), ("b", 4)]),
                common.ValueNode_Array([2, 3]),
                common.ValueNode_Int(1),
                common.ValueNode_Str("x"),
                common.ValueNode_Kvlist([]),
            ],
        )

    def test_refuses_what_an_attribute_cannot_hold(self):
        with self.assertRaises(ValueError):
            value(1 << 63)
        with self.assertRaises(TypeError):
            value(object())


class Interest(unittest.TestCase):
    def test_no_fields_means_everything_packed(self):
        everything = interest()
        for flag in traces.SpanFields:
            self.assertIn(flag, everything.span_fields)
        self.assertEqual(everything.span_attributes, common.AttributeSelection_All())
        self.assertEqual(everything.event_attributes, common.AttributeSelection_All())

    def test_asks_for_the_fields_and_attributes_named(self):
        asked = interest(
            "name", "status", span_attributes=["user.email"], resource_attributes="strings", packed=False
        )
        self.assertEqual(asked.span_fields, traces.SpanFields.NAME | traces.SpanFields.STATUS)
        self.assertEqual(asked.span_attributes, common.AttributeSelection_Keys(["user.email"]))
        self.assertEqual(asked.resource_attributes, common.AttributeSelection_Strings())
        self.assertEqual(asked.scope_attributes, common.AttributeSelection_All())
        # No events or links read, so none of their attributes are sent.
        self.assertEqual(asked.event_attributes, common.AttributeSelection_None_())
        self.assertEqual(asked.link_attributes, common.AttributeSelection_None_())

    def test_refuses_unknown_fields_and_a_bare_key(self):
        with self.assertRaisesRegex(ValueError, "unknown span field"):
            interest("names")
        with self.assertRaisesRegex(ValueError, "list of keys"):
            selection("user.email")
        self.assertEqual(selection(None), common.AttributeSelection_None_())


if __name__ == "__main__":
    unittest.main()
