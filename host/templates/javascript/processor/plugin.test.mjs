// Unit tests, run by `weft plugin build` (or `npm test`) with plain Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { configure, spanProcessor } from "./plugin.js";
import { fakeBatch } from "./weft-testing.js";

const named = (...names) => names.map((name) => ({ name }));

test("drops health checks and keeps the rest", () => {
  spanProcessor.init("{}");
  // The host may send either layout; the processor reads both the same.
  for (const packed of [false, true]) {
    const batch = fakeBatch(named("GET /healthz", "GET /cart", "GET /readyz"), { packed });
    assert.deepEqual(spanProcessor.process(batch), [
      { tag: "drop-span", val: 0 },
      { tag: "drop-span", val: 2 },
    ]);
  }
});

test("the names come from the config", () => {
  spanProcessor.init('{"drop_names": ["ping"]}');
  const batch = fakeBatch(named("GET /healthz", "ping"));
  assert.deepEqual(spanProcessor.process(batch), [{ tag: "drop-span", val: 1 }]);
});

test("a misspelt key is refused", () => {
  assert.throws(() => configure('{"drop_name": ["ping"]}'), /drop_name/);
});
