// Unit tests for the processor logic, run with plain Node: `npm test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { normalizeRoute, spanProcessor } from "./enrich.js";

test("normalizes identifiers in routes", () => {
  assert.equal(normalizeRoute("/users/123/orders/9f3c2a1b?x=1"), "/users/{id}/orders/{id}");
  assert.equal(normalizeRoute("/api/v2/items/550e8400-e29b-41d4-a716-446655440000"), "/api/v2/items/{id}");
  assert.equal(normalizeRoute("/healthz"), "/healthz");
  assert.equal(normalizeRoute("/files/deadbeef"), "/files/deadbeef");
});

test("stamps every span and derives the route", () => {
  spanProcessor.init(JSON.stringify({ set: { env: "prod", tier: 2 } }));
  const arena = new TextEncoder().encode("/users/42");
  const span = { attributes: { start: 0, len: 1 } };
  const batch = {
    keys: ["url.path"],
    arena,
    attributes: [{ key: 0, value: { tag: "str", val: { offset: 0, len: arena.length } } }],
    spans: [span],
  };
  const edits = spanProcessor.process(batch);
  assert.deepEqual(edits.map((e) => e.val[1]), ["env", "tier", "http.route"]);
  assert.deepEqual(edits[1].val[2], { tag: "int", val: 2n });
  assert.deepEqual(edits[2].val[2], { tag: "str", val: "/users/{id}" });
});

test("refuses unknown config keys", () => {
  assert.throws(() => spanProcessor.init('{"sett": {}}'), /unknown key `sett`/);
});
