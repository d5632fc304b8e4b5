// Unit tests, run by `weft plugin build` (or `npm test`) with plain Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { configure, tracePolicy, verdict } from "./plugin.js";
import { Spans } from "./weft.js";
import { fakeBatch } from "./weft-testing.js";

const MS = 1_000_000n;
const span = (durationMs, failed = false) => ({
  startTimeUnixNano: 0n,
  endTimeUnixNano: BigInt(durationMs) * MS,
  status: [failed ? "error" : "unset", ""],
});

test("keeps failed and slow traces and drops the rest", () => {
  tracePolicy.init("{}");
  const spans = new Spans(fakeBatch([span(300, true), span(10), span(1500), span(20)]));
  assert.deepEqual(verdict([spans.at(0), spans.at(1)]), { keep: true, reason: "error" });
  assert.deepEqual(verdict([spans.at(2)]), { keep: true, reason: "slow" });
  assert.deepEqual(verdict([spans.at(3)]), { keep: false, reason: "" });
});

test("decide answers each trace in order", () => {
  tracePolicy.init("{}");
  for (const packed of [false, true]) {
    const batch = fakeBatch([span(20), span(5, true), span(30)], { packed });
    const decisions = tracePolicy.decide(batch, [{ start: 0, len: 1 }, { start: 1, len: 2 }], 0n);
    assert.deepEqual(decisions.map((d) => d.keep), [false, true]);
  }
});

test("a misspelt key is refused", () => {
  assert.throws(() => configure('{"slower_than": 5}'), /slower_than/);
});
