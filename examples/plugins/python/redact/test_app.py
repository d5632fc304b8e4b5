"""Unit tests for the redaction logic, run with plain CPython:
    python3 -m componentize_py -d ../../../../wit -w processor bindings bindings
    PYTHONPATH=bindings python3 -m unittest test_app
"""

import unittest

import app


def mask(kind: bytes) -> bytes:
    return b"[REDACTED:" + kind + b"]"


class RedactTest(unittest.TestCase):
    def test_masks_only_the_matched_part(self):
        self.assertEqual(app.redact(b"mail ann@example.com now", mask), b"mail [REDACTED:email] now")
        self.assertEqual(app.redact(b"ssn 078-05-1120", mask), b"ssn [REDACTED:ssn]")

    def test_leaves_ordinary_values_alone(self):
        for clean in [b"ord-2024-000123", b"2024-03-15T10:22:33Z", b"logo@2x", b"123-45-67890", b"000-12-3456", b"GET /cart"]:
            self.assertIsNone(app.redact(clean, mask), clean)


if __name__ == "__main__":
    unittest.main()
