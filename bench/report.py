"""Turns bench/run.sh's results (one JSON object per run) into a markdown table of medians
and the ratios the performance targets ask for, all from the same run of the script.

Usage: python3 bench/report.py results.jsonl
"""

import json
import statistics
import sys

LABELS = {
    "weft-none": ("Weft", "no processors"),
    "weft-tls": ("Weft", "no processors, gRPC over TLS"),
    "weft-pass": ("Weft", "one pass-through WASM processor"),
    "weft-chain": ("Weft", "redact + enrich + sample(100%), WASM"),
    "weft-bomb": ("Weft", "the chain + a memory bomb every 10th batch (on_error = pass)"),
    "weft-durable": ("Weft", "the chain + persistent queue (group commit, the default)"),
    "weft-durable5": ("Weft", "the chain + persistent queue (fsync every 5 ms)"),
    "weft-lb": ("Weft", "no processors, load-balancing by trace id to 3 backends"),
    "base-none": ("Weft (baseline build)", "no processors"),
    "base-chain": ("Weft (baseline build)", "redact + enrich + sample(100%), WASM"),
    "weft-tail": ("Weft", "redact + tail sampling (keep all after 200 ms), WASM"),
    "base-tail": ("Weft (baseline build)", "redact + tail sampling (keep all after 200 ms), WASM"),
    "rotel": ("Rotel", "forward (no processor)"),
    "rotel-pynoop": ("Rotel", "Python no-op processor"),
    "rotel-pyredact": ("Rotel", "Python PII-redaction processor"),
}


def summarise(runs):
    """Medians of one scenario's runs."""
    rates = [r["sent"] / r["secs"] for r in runs if r["secs"] > 0]
    cpu = [r["cpu_secs"] / (r["received"] / 1e6) for r in runs if r["received"] > 0]
    return {
        "spans_per_sec": statistics.median(rates) if rates else 0.0,
        "spans_per_sec_range": (min(rates), max(rates)) if rates else (0.0, 0.0),
        "cpu_per_million": statistics.median(cpu) if cpu else float("nan"),
        "rss_mib": statistics.median(r["rss_kib"] for r in runs) / 1024,
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "lost": sum(max(r["sent"] - r["received"], 0) for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "runs": len(runs),
    }


def main(path):
    by_scenario = {}
    with open(path) as results:
        for line in results:
            if line.strip():
                run = json.loads(line)
                by_scenario.setdefault(run["scenario"], []).append(run)
    rows = {name: summarise(runs) for name, runs in by_scenario.items()}

    print("| scenario | collector | input | processing | spans/s (median) | spans/s (min–max) | CPU-s per 1M spans | peak RSS (MiB) | p99 request (ms) | lost spans | failed requests | runs |")
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        base, _, protocol = name.rpartition("-")
        collector, processing = LABELS.get(base, ("?", base))
        low, high = row["spans_per_sec_range"]
        print(
            f"| {name} | {collector} | {'gRPC' if protocol == 'grpc' else 'HTTP'} | {processing} "
            f"| {row['spans_per_sec']:,.0f} | {low / 1000:.0f}k–{high / 1000:.0f}k "
            f"| {row['cpu_per_million']:.2f} | {row['rss_mib']:.0f} "
            f"| {row['p99_ms']:.1f} | {row['lost']} | {row['errors']} | {row['runs']} |"
        )

    def ratio(a, b, key):
        if a in rows and b in rows and rows[b][key]:
            return rows[a][key] / rows[b][key]
        return None

    print()
    print("| ratio (medians of this run, gRPC input) | value | target | met |")
    print("|---|---:|---|---|")
    checks = [
        ("chain throughput / Rotel forwarding throughput",
         ratio("weft-chain-grpc", "rotel-grpc", "spans_per_sec"), ">= 1.5", lambda v: v >= 1.5),
        ("chain CPU-s per 1M spans / Rotel forwarding CPU-s per 1M spans",
         ratio("weft-chain-grpc", "rotel-grpc", "cpu_per_million"), "<= 0.67", lambda v: v <= 0.67),
        ("chain throughput / Weft with no processors (gRPC)",
         ratio("weft-chain-grpc", "weft-none-grpc", "spans_per_sec"), ">= 0.75 (overhead <= 25%)",
         lambda v: v >= 0.75),
        ("chain throughput / Weft with no processors (HTTP)",
         ratio("weft-chain-http", "weft-none-http", "spans_per_sec"), ">= 0.75 (overhead <= 25%)",
         lambda v: v >= 0.75),
        ("chain (WASM redaction) throughput / Rotel + Python redaction throughput",
         ratio("weft-chain-grpc", "rotel-pyredact-grpc", "spans_per_sec"), ">= 10", lambda v: v >= 10),
        ("one pass-through processor throughput / no processors (gRPC)",
         ratio("weft-pass-grpc", "weft-none-grpc", "spans_per_sec"), "(context)", None),
        ("chain with a memory-bomb plugin / the same chain without it (gRPC)",
         ratio("weft-bomb-grpc", "weft-chain-grpc", "spans_per_sec"), "(context: hostile plugin)", None),
        ("no processors over TLS / plaintext throughput (gRPC)",
         ratio("weft-tls-grpc", "weft-none-grpc", "spans_per_sec"), ">= 0.85", lambda v: v >= 0.85),
        ("Weft no processors throughput / Rotel forwarding throughput",
         ratio("weft-none-grpc", "rotel-grpc", "spans_per_sec"), "(context)", None),
        ("chain throughput / the baseline build's chain (--baseline)",
         ratio("weft-chain-grpc", "base-chain-grpc", "spans_per_sec"), "(a change's cost)", None),
        ("chain CPU-s per 1M spans / the baseline build's (--baseline)",
         ratio("weft-chain-grpc", "base-chain-grpc", "cpu_per_million"), "(a change's cost)", None),
        ("redact + tail sampling / Weft with no processors (gRPC)",
         ratio("weft-tail-grpc", "weft-none-grpc", "spans_per_sec"), "(context)", None),
        ("redact + tail sampling throughput / the baseline build's (--baseline)",
         ratio("weft-tail-grpc", "base-tail-grpc", "spans_per_sec"), "(a change's cost)", None),
        ("redact + tail sampling CPU-s per 1M spans / the baseline build's (--baseline)",
         ratio("weft-tail-grpc", "base-tail-grpc", "cpu_per_million"), "(a change's cost)", None),
        ("chain + persistent queue (group commit) / the chain without it",
         ratio("weft-durable-grpc", "weft-chain-grpc", "spans_per_sec"), ">= 0.8", lambda v: v >= 0.8),
        ("chain + persistent queue (fsync every 5 ms) / the chain without it",
         ratio("weft-durable5-grpc", "weft-chain-grpc", "spans_per_sec"), "(context)", None),
        ("chain + persistent queue CPU-s per 1M spans / the chain without it",
         ratio("weft-durable-grpc", "weft-chain-grpc", "cpu_per_million"), "(context)", None),
        ("load-balancing gateway (3 backends, by trace id) / Weft with no processors",
         ratio("weft-lb-grpc", "weft-none-grpc", "spans_per_sec"), ">= 0.8", lambda v: v >= 0.8),
        ("load-balancing gateway CPU-s per 1M spans / Weft with no processors",
         ratio("weft-lb-grpc", "weft-none-grpc", "cpu_per_million"), "(context)", None),
        ("no processors throughput / the baseline build's (--baseline)",
         ratio("weft-none-grpc", "base-none-grpc", "spans_per_sec"), "(a change's cost)", None),
    ]
    for label, value, target, met in checks:
        if value is None:
            print(f"| {label} | n/a | {target} | not measured |")
        else:
            verdict = "" if met is None else ("yes" if met(value) else "**no**")
            print(f"| {label} | {value:.2f} | {target} | {verdict} |")

    lost = sum(row["lost"] for row in rows.values())
    if lost:
        print(f"\nWARNING: {lost} span(s) sent were not counted by the sink.")


if __name__ == "__main__":
    main(sys.argv[1])
