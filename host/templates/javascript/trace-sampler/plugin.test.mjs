// Unit tests, run by `weft plugin build` (or `npm test`) with plain Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { configure, tracePolicy, verdict } from "./plugin.js";

const MS = 1_000_000n;
const span = (durationMs, failed = false) => ({
  startTimeUnixNano: 0n,
  endTimeUnixNano: BigInt(durationMs) * MS,
  status: { code: failed ? "error" : "unset" },
});

test("keeps failed and slow traces and drops the rest", () => {
  tracePolicy.init("{}");
  assert.deepEqual(verdict([span(300, true), span(10)]), { keep: true, reason: "error" });
  assert.deepEqual(verdict([span(1500)]), { keep: true, reason: "slow" });
  assert.deepEqual(verdict([span(20)]), { keep: false, reason: "" });
});

test("decide answers each trace in order", () => {
  tracePolicy.init("{}");
  const batch = { spans: [span(20), span(5, true), span(30)] };
  const decisions = tracePolicy.decide(batch, [{ start: 0, len: 1 }, { start: 1, len: 2 }], 0n);
  assert.deepEqual(decisions.map((d) => d.keep), [false, true]);
});

test("a misspelt key is refused", () => {
  assert.throws(() => configure('{"slower_than": 5}'), /slower_than/);
});
