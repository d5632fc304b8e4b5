"""Unit tests, run by `weft plugin build` with plain CPython and the generated bindings."""

import unittest
from types import SimpleNamespace

import app
from wit_world.imports import traces

MS = 1_000_000


def span(duration_ms, failed=False):
    code = traces.StatusCode.ERROR if failed else traces.StatusCode.UNSET
    return SimpleNamespace(
        start_time_unix_nano=0, end_time_unix_nano=duration_ms * MS, status=SimpleNamespace(code=code)
    )


class PolicyTest(unittest.TestCase):
    def setUp(self):
        app.TracePolicy().init("{}")

    def test_keeps_failed_and_slow_traces_and_drops_the_rest(self):
        self.assertEqual(app.verdict([span(300, failed=True), span(10)]), (True, "error"))
        self.assertEqual(app.verdict([span(1500)]), (True, "slow"))
        self.assertEqual(app.verdict([span(20)]), (False, ""))

    def test_decide_answers_each_trace_in_order(self):
        batch = SimpleNamespace(spans=[span(20), span(5, failed=True), span(30)])
        ranges = [SimpleNamespace(start=0, len=1), SimpleNamespace(start=1, len=2)]
        decisions = app.TracePolicy().decide(batch, ranges, 0)
        self.assertEqual([d.keep for d in decisions], [False, True])

    def test_a_misspelt_key_is_refused(self):
        with self.assertRaises(ValueError) as refused:
            app.configure('{"slower_than": 5}')
        self.assertIn("slower_than", str(refused.exception))


if __name__ == "__main__":
    unittest.main()
