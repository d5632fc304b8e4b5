"""Unit tests, run by `weft plugin build` with plain CPython and the generated bindings."""

import unittest

import app
from wit_world.imports import traces
from weft_testing import fake_batch


def names(*names):
    return [{"name": name} for name in names]


class ProcessorTest(unittest.TestCase):
    def test_drops_health_checks_and_keeps_the_rest(self):
        processor = app.SpanProcessor()
        processor.init("{}")
        # The host may send either layout; the processor reads both the same.
        for packed in (False, True):
            batch = fake_batch(names("GET /healthz", "GET /cart", "GET /readyz"), packed=packed)
            self.assertEqual(processor.process(batch), [traces.Edit_DropSpan(0), traces.Edit_DropSpan(2)])

    def test_the_names_come_from_the_config(self):
        processor = app.SpanProcessor()
        processor.init('{"drop_names": ["ping"]}')
        self.assertEqual(processor.process(fake_batch(names("GET /healthz", "ping"))), [traces.Edit_DropSpan(1)])

    def test_a_misspelt_key_is_refused(self):
        with self.assertRaises(ValueError) as refused:
            app.configure('{"drop_name": ["ping"]}')
        self.assertIn("drop_name", str(refused.exception))


if __name__ == "__main__":
    unittest.main()
