"""Export spans to Weft with the OpenTelemetry Python SDK over OTLP/gRPC or OTLP/HTTP,
configured with its own TLS settings, as an application would be. Used by the end-to-end TLS
tests.

    python3 otlp_export.py [--protocol grpc|http] --endpoint https://127.0.0.1:4317 --ca ca.pem \
        [--cert client.pem --key client-key.pem] [--token T] [--spans N] [--interval-ms MS]
        [--resource-attribute KEY=VALUE]...

Prints one line `exported OK FAILED` and exits 0 when every export succeeded, 3 otherwise.
Requires `opentelemetry-sdk`, `opentelemetry-exporter-otlp-proto-grpc` and
`opentelemetry-exporter-otlp-proto-http`.
"""

import argparse
import sys
import time

import grpc
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult


class Counting(SpanExporter):
    """Delegates to the OTLP exporter and counts what it reports."""

    def __init__(self, inner):
        self.inner = inner
        self.ok = 0
        self.failed = 0

    def export(self, spans):
        try:
            result = self.inner.export(spans)
        except Exception as error:  # the HTTP exporter raises on a refused handshake
            print(f"export failed: {error}", file=sys.stderr)
            result = SpanExportResult.FAILURE
        if result == SpanExportResult.SUCCESS:
            self.ok += len(spans)
        else:
            self.failed += len(spans)
        return result

    def shutdown(self):
        self.inner.shutdown()


def read(path):
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--protocol", choices=["grpc", "http"], default="grpc")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--ca")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--token")
    parser.add_argument("--spans", type=int, default=5)
    parser.add_argument("--interval-ms", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--resource-attribute", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    headers = {"authorization": f"Bearer {args.token}"} if args.token else None
    if args.protocol == "grpc":
        credentials = grpc.ssl_channel_credentials(
            root_certificates=read(args.ca),
            private_key=read(args.key),
            certificate_chain=read(args.cert),
        )
        inner = OTLPSpanExporter(
            endpoint=args.endpoint,
            credentials=credentials,
            headers=headers,
            timeout=args.timeout,
        )
    else:
        inner = HttpSpanExporter(
            endpoint=args.endpoint + "/v1/traces",
            certificate_file=args.ca,
            client_certificate_file=args.cert,
            client_key_file=args.key,
            headers=headers,
            timeout=args.timeout,
        )
    exporter = Counting(inner)
    resource = {"service.name": "python-tls"}
    resource.update(pair.split("=", 1) for pair in args.resource_attribute)
    provider = TracerProvider(resource=Resource.create(resource))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("otlp_export")
    for n in range(args.spans):
        with tracer.start_as_current_span("checkout") as span:
            span.set_attribute("export.n", n)
        if args.interval_ms:
            time.sleep(args.interval_ms / 1000)
    provider.shutdown()
    print(f"exported {exporter.ok} {exporter.failed}", flush=True)
    sys.exit(0 if exporter.failed == 0 else 3)


if __name__ == "__main__":
    main()
