"""Unit tests, run by `weft plugin build` with plain CPython and the generated bindings."""

import unittest
from types import SimpleNamespace

import app
from wit_world.imports import traces


def batch_of(*names):
    """A batch as the host sends it: span names are slices of one byte arena."""
    arena, spans = bytearray(), []
    for name in names:
        raw = name.encode()
        spans.append(SimpleNamespace(name=SimpleNamespace(offset=len(arena), len=len(raw))))
        arena.extend(raw)
    return SimpleNamespace(arena=bytes(arena), spans=spans)


class ProcessorTest(unittest.TestCase):
    def test_drops_health_checks_and_keeps_the_rest(self):
        processor = app.SpanProcessor()
        processor.init("{}")
        edits = processor.process(batch_of("GET /healthz", "GET /cart", "GET /readyz"))
        self.assertEqual([type(e) for e in edits], [traces.Edit_DropSpan] * 2)
        self.assertEqual([e.value for e in edits], [0, 2])

    def test_the_names_come_from_the_config(self):
        processor = app.SpanProcessor()
        processor.init('{"drop_names": ["ping"]}')
        self.assertEqual([e.value for e in processor.process(batch_of("GET /healthz", "ping"))], [1])

    def test_a_misspelt_key_is_refused(self):
        with self.assertRaises(ValueError) as refused:
            app.configure('{"drop_name": ["ping"]}')
        self.assertIn("drop_name", str(refused.exception))


if __name__ == "__main__":
    unittest.main()
