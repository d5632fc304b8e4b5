"""A Rotel trace processor that masks PII in string span attributes, as close as plain Python
gets to Weft's builtin:pii-redact with its default detectors: emails, payment cards (Luhn
checked), phone numbers, IPv4 and IPv6 addresses, JSON web tokens, bearer tokens, IBANs (mod-97
checked) and US social security numbers, each replaced by `[REDACTED:<kind>]`; values of
deny-listed keys are dropped. Used by bench/run.sh to compare with redaction inside Weft."""

import re

from rotel_sdk.open_telemetry.common.v1 import AnyValue
from rotel_sdk.open_telemetry.trace.v1 import ResourceSpans

DENY_KEYS = re.compile(r"(.*\.password|.*secret.*|http\.request\.header\.authorization)$")


def _luhn(match: str) -> bool:
    digits = [int(c) for c in match if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _iban(match: str) -> bool:
    s = match.replace(" ", "")
    s = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in s)) % 97 == 1


# (kind, pattern, confirm, cheap prefilter)
DETECTORS = [
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"), None, "eyJ"),
    ("bearer_token", re.compile(r"(?<=Bearer )[A-Za-z0-9._~+/-]+=*"), None, "Bearer "),
    ("email", re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), None, None),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"), _iban, None),
    ("credit_card", re.compile(r"\b\d(?:[ -]?\d){12,18}\b"), _luhn, None),
    ("ssn", re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b"), None, "-"),
    ("phone", re.compile(r"(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}\b|\b0\d{2,4}[ ]\d{3,4}[ ]\d{4}\b"), None, None),
    ("ipv4", re.compile(r"\b(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}\b"), None, "."),
    ("ipv6", re.compile(r"\b(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}\b"), None, ":"),
]


def _mask(value: str) -> str:
    out = value
    for kind, pattern, confirm, prefilter in DETECTORS:
        if prefilter is not None and prefilter not in out:
            continue
        if kind == "email" and "@" not in out and "%40" not in out:
            continue
        if kind == "ipv4" and out in ("127.0.0.1", "0.0.0.0"):
            continue

        def replace(m, kind=kind, confirm=confirm):
            if confirm is not None and not confirm(m.group(0)):
                return m.group(0)
            return "[REDACTED:" + kind + "]"

        out = pattern.sub(replace, out)
    return out


def process_spans(resource_spans: ResourceSpans):
    for scope_spans in resource_spans.scope_spans:
        for span in scope_spans.spans:
            attributes = span.attributes
            kept = []
            changed = False
            for kv in attributes:
                if DENY_KEYS.match(kv.key):
                    changed = True
                    continue
                value = kv.value.value if kv.value is not None else None
                if isinstance(value, str):
                    masked = _mask(value)
                    if masked != value:
                        kv.value = AnyValue(masked)
                kept.append(kv)
            if changed:
                span.attributes = kept
