"""Unit tests of the hello processor on fake batches in both layouts, run with plain CPython
from this directory:
    componentize-py -d ../../../../wit -w processor bindings bindings
    PYTHONPATH=bindings:../../../../sdk/python python3 -m unittest test_app
"""

import unittest

import app
from wit_world.imports import common, traces
from weft_testing import fake_batch


class HelloTest(unittest.TestCase):
    def test_masks_emails(self):
        self.assertEqual(app.masked("ann@example.com"), "***@example.com")
        self.assertEqual(app.masked("not an address"), "***")

    def test_upper_cases_names_and_masks_the_email_attribute(self):
        for packed in (False, True):
            batch = fake_batch(
                [
                    {"name": "get /cart", "attributes": {"user.email": "ann@example.com"}},
                    {"name": "SELECT", "attributes": {"user.email": 42}},
                ],
                packed=packed,
            )
            self.assertEqual(
                app.SpanProcessor().process(batch),
                [
                    traces.Edit_SetName((0, "GET /CART")),
                    traces.Edit_SetAttribute(
                        (traces.Target_Span(0), "user.email", common.Value_Str("***@example.com"))
                    ),
                ],
            )


if __name__ == "__main__":
    unittest.main()
