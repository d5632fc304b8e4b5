"""A checkout service instrumented with the OpenTelemetry Python SDK that leaks PII into its spans.

Sends --traces checkout traces (3 spans each) over OTLP/gRPC to weft, flushes, and exits with
status 1 if the exporter could not deliver every span. Usage:

    python examples/observability/send_traces.py --traces 20 --endpoint http://127.0.0.1:4317
"""

import argparse
import random
import sys
import time

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import SpanKind, Status, StatusCode

# PII the application puts into its spans; weft's redaction processor must mask all of it.
CUSTOMERS = [
    # (email, card number passing Luhn, phone number)
    ("ann.smith@example.com", "4111 1111 1111 1111", "+14155552671"),
    ("bob.jones@example.org", "5500-0000-0000-0004", "+442079460958"),
    ("chen.li@example.net", "4012888888881881", "+16505550123"),
]


class CountingExporter(SpanExporter):
    """Wraps an exporter and counts the spans it delivered and failed to deliver."""

    def __init__(self, inner):
        self.inner = inner
        self.sent = 0
        self.failed = 0

    def export(self, spans):
        result = self.inner.export(spans)
        if result == SpanExportResult.SUCCESS:
            self.sent += len(spans)
        else:
            self.failed += len(spans)
        return result

    def shutdown(self):
        self.inner.shutdown()

    def force_flush(self, timeout_millis=30000):
        return self.inner.force_flush(timeout_millis)


def checkout(tracer, n):
    """Records one checkout: a server span, a payment call, and an inventory call."""
    email, card, phone = CUSTOMERS[n % len(CUSTOMERS)]
    declined = n % 5 == 4
    with tracer.start_as_current_span(
        "POST /api/checkout",
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": "POST",
            "http.route": "/api/checkout",
            "order.id": f"ord-{n:06d}",
            "user.email": email,
            "user.phone": phone,
            "payment.card": card,
            "user.password": "hunter2",
        },
    ) as root:
        with tracer.start_as_current_span(
            "reserve inventory",
            attributes={"inventory.items": random.randint(1, 5)},
        ):
            time.sleep(0.002)
        with tracer.start_as_current_span(
            "POST payments.example.com/charge",
            kind=SpanKind.CLIENT,
            attributes={"payment.card": card, "payment.amount": 42.5},
        ) as charge:
            time.sleep(0.003)
            if declined:
                charge.set_status(Status(StatusCode.ERROR, "card declined"))
        if declined:
            root.add_event(
                "exception",
                {
                    "exception.type": "PaymentDeclined",
                    "exception.message": f"card {card} declined, customer {email} ({phone})",
                },
            )
            root.set_status(Status(StatusCode.ERROR, "payment declined"))
            root.set_attribute("http.response.status_code", 402)
        else:
            root.set_attribute("http.response.status_code", 200)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=20, help="traces to send (default 20)")
    parser.add_argument(
        "--endpoint",
        default="http://127.0.0.1:4317",
        help="weft's OTLP/gRPC receiver (default http://127.0.0.1:4317)",
    )
    parser.add_argument(
        "--interval", type=float, default=0.05, help="seconds between traces (default 0.05)"
    )
    args = parser.parse_args()

    exporter = CountingExporter(OTLPSpanExporter(endpoint=args.endpoint, insecure=True))
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": "checkout", "deployment.environment.name": "demo"}
        )
    )
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=500))
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("weft.examples.checkout")

    for n in range(args.traces):
        checkout(tracer, n)
        time.sleep(args.interval)

    # Flushes the batch processor and shuts the exporter down.
    provider.shutdown()
    print(
        f"sent {args.traces} traces: {exporter.sent} spans delivered to {args.endpoint}, "
        f"{exporter.failed} failed"
    )
    return 0 if exporter.failed == 0 and exporter.sent == 3 * args.traces else 1


if __name__ == "__main__":
    sys.exit(main())
