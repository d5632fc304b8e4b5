"""A first Weft processor in Python, written with the friendly view of `sdk/python/weft.py`.

Upper-cases every span's name and masks the local part of a `user.email` attribute
(`ann@example.com` becomes `***@example.com`). Spans and attributes are read by name as plain
Python strings; the edits are collected by `Spans` and returned.
"""

from wit_world import exports
from weft import Spans, interest


def masked(email: str) -> str:
    """The address with everything before the `@` hidden."""
    _, at, domain = email.rpartition("@")
    return "***@" + domain if at else "***"


class SpanProcessor(exports.SpanProcessor):
    def init(self, config: str):
        # Only the span name and one attribute cross into the plugin.
        return interest("name", span_attributes=["user.email"], resource_attributes=None, scope_attributes=None)

    def process(self, batch):
        spans = Spans(batch)
        for span in spans:
            if span.name != span.name.upper():
                span.rename(span.name.upper())
            email = span.attributes.get("user.email")
            if isinstance(email, str):
                span.set_attribute("user.email", masked(email))
        return spans.edits()
