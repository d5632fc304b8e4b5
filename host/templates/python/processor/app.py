"""{{name}}: a Weft span processor in Python.

Drops spans whose name is one of `drop_names` (health checks by default) and passes every
other span through untouched. Make it yours: `init` says what the host sends, `process`
returns edits (set or remove attributes, rename, drop); everything a processor does not edit
passes through byte for byte.

Config (the processor's `config` table in weft.toml):
    drop_names = ["GET /healthz", "GET /readyz"]
"""

import json

from componentize_py_types import Err
from wit_world import exports
from weft import Spans, interest

DEFAULTS = {"drop_names": ["GET /healthz", "GET /readyz"]}

# Module state: componentize-py may create a new `SpanProcessor` object for each call, so the
# settings from `init` live here.
settings = dict(DEFAULTS)


def configure(text: str) -> dict:
    """The settings in the config's JSON text; ValueError names what is wrong."""
    loaded = json.loads(text or "{}")
    unknown = set(loaded) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"invalid config: unknown key(s) {sorted(unknown)}; expected `drop_names`")
    names = loaded.get("drop_names", DEFAULTS["drop_names"])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("invalid config at `drop_names`: expected a list of span names")
    return {"drop_names": names}


class SpanProcessor(exports.SpanProcessor):
    def init(self, config: str):
        global settings
        try:
            settings = configure(config)
        except ValueError as error:
            raise Err(str(error))
        # Span names only: no attribute crosses into the plugin.
        return interest("name", span_attributes=None, resource_attributes=None, scope_attributes=None)

    def process(self, batch):
        # Spans are read by name as Python values (`span.name`, `span.attributes["k"]`,
        # `span.status.code`...); methods such as `drop`, `rename` and `set_attribute` record
        # edits, which `spans.edits()` returns.
        spans = Spans(batch)
        drop = set(settings["drop_names"])
        for span in spans:
            if span.name in drop:
                span.drop()
        return spans.edits()
