// Unit tests, run by `weft plugin build` (or `npm test`) with plain Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { configure, spanProcessor } from "./plugin.js";

/** A batch as the host sends it: span names are slices of one byte arena. */
function batchOf(...names) {
  const encoder = new TextEncoder();
  const spans = [];
  let arena = new Uint8Array(0);
  for (const name of names) {
    const bytes = encoder.encode(name);
    spans.push({ name: { offset: arena.length, len: bytes.length } });
    const grown = new Uint8Array(arena.length + bytes.length);
    grown.set(arena);
    grown.set(bytes, arena.length);
    arena = grown;
  }
  return { arena, spans };
}

test("drops health checks and keeps the rest", () => {
  spanProcessor.init("{}");
  const edits = spanProcessor.process(batchOf("GET /healthz", "GET /cart", "GET /readyz"));
  assert.deepEqual(edits, [{ tag: "drop-span", val: 0 }, { tag: "drop-span", val: 2 }]);
});

test("the names come from the config", () => {
  spanProcessor.init('{"drop_names": ["ping"]}');
  assert.deepEqual(spanProcessor.process(batchOf("GET /healthz", "ping")), [{ tag: "drop-span", val: 1 }]);
});

test("a misspelt key is refused", () => {
  assert.throws(() => configure('{"drop_name": ["ping"]}'), /drop_name/);
});
