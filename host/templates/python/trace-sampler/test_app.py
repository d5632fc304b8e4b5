"""Unit tests, run by `weft plugin build` with plain CPython and the generated bindings."""

import unittest
from types import SimpleNamespace

import app
from weft import Spans
from weft_testing import fake_batch

MS = 1_000_000


def span(duration_ms, failed=False):
    return {
        "start_time_unix_nano": 0,
        "end_time_unix_nano": duration_ms * MS,
        "status": ("error" if failed else "unset", ""),
    }


class PolicyTest(unittest.TestCase):
    def setUp(self):
        app.TracePolicy().init("{}")

    def test_keeps_failed_and_slow_traces_and_drops_the_rest(self):
        spans = Spans(fake_batch([span(300, failed=True), span(10), span(1500), span(20)]))
        self.assertEqual(app.verdict(spans[0:2]), (True, "error"))
        self.assertEqual(app.verdict(spans[2:3]), (True, "slow"))
        self.assertEqual(app.verdict(spans[3:4]), (False, ""))

    def test_decide_answers_each_trace_in_order(self):
        for packed in (False, True):
            batch = fake_batch([span(20), span(5, failed=True), span(30)], packed=packed)
            ranges = [SimpleNamespace(start=0, len=1), SimpleNamespace(start=1, len=2)]
            decisions = app.TracePolicy().decide(batch, ranges, 0)
            self.assertEqual([d.keep for d in decisions], [False, True])

    def test_a_misspelt_key_is_refused(self):
        with self.assertRaises(ValueError) as refused:
            app.configure('{"slower_than": 5}')
        self.assertIn("slower_than", str(refused.exception))


if __name__ == "__main__":
    unittest.main()
