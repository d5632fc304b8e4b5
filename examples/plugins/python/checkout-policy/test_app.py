"""Unit tests for the checkout policy's logic, run with plain CPython:
    componentize-py -d ../../../../wit -w trace-sampler bindings bindings
    PYTHONPATH=bindings python3 -m unittest test_app
"""

import unittest
from dataclasses import dataclass

import app
from wit_world.imports import traces


@dataclass
class Status:
    code: traces.StatusCode


@dataclass
class Span:
    name: str
    end_time_unix_nano: int
    status: Status


def span(name: str, end: int, error: bool = False) -> Span:
    return Span(name, end, Status(traces.StatusCode.ERROR if error else traces.StatusCode.UNSET))


def decide(*spans: Span) -> bool:
    return app.paid_then_failed(list(spans), lambda s: s.name)


class PaidThenFailedTest(unittest.TestCase):
    def test_a_checkout_failing_after_a_successful_payment_is_kept(self):
        self.assertTrue(decide(span("charge card", 10), span("POST /checkout", 20, error=True)))

    def test_other_stories_are_dropped(self):
        # Failed before paying, payment failed too, checkout succeeded, no payment at all.
        self.assertFalse(decide(span("charge card", 30), span("POST /checkout", 20, error=True)))
        self.assertFalse(decide(span("charge card", 10, error=True), span("POST /checkout", 20, error=True)))
        self.assertFalse(decide(span("charge card", 10), span("POST /checkout", 20)))
        self.assertFalse(decide(span("POST /checkout", 20, error=True)))


if __name__ == "__main__":
    unittest.main()
