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

/** A batch in the packed layout, written field by field from docs/plugin-contract.md.
 *  `spans` lists each span's attributes as [key, string] pairs. */
function packedBatch(spans) {
  const keys = [], rows = [], spanRows = [];
  const encoder = new TextEncoder();
  let arena = new Uint8Array(0);
  spans.forEach((attributes, span) => {
    const start = rows.length;
    for (const [key, text] of attributes) {
      if (!keys.includes(key)) keys.push(key);
      const bytes = encoder.encode(text);
      const row = new DataView(new ArrayBuffer(32));
      row.setUint32(0, keys.indexOf(key), true);
      row.setUint8(4, 1); // string
      row.setUint8(5, 2); // owned by a span
      row.setUint32(8, span, true);
      row.setUint32(12, arena.length, true);
      row.setUint32(16, bytes.length, true);
      rows.push(row);
      const grown = new Uint8Array(arena.length + bytes.length);
      grown.set(arena);
      grown.set(bytes, arena.length);
      arena = grown;
    }
    const row = new DataView(new ArrayBuffer(128));
    row.setUint32(88, start, true);
    row.setUint32(92, attributes.length, true);
    spanRows.push(row);
  });
  const header = new DataView(new ArrayBuffer(32));
  [1, 0, 0, spanRows.length, 0, 0, rows.length, 0].forEach((v, i) => header.setUint32(4 * i, v, true));
  const parts = [header, ...spanRows, ...rows].map((v) => new Uint8Array(v.buffer));
  const packed = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (packed.set(p, at), at + p.length), 0);
  return { keys, arena, attributes: [], spans: [], packed };
}

test("stamps every span with one edit and derives the route", () => {
  spanProcessor.init(JSON.stringify({ set: { env: "prod", tier: 2 } }));
  const batch = packedBatch([
    [["url.path", "/users/42"]],
    [["http.route", "/x/{id}"], ["url.path", "/x/7"]],
    [["url.path", "/orders/9f3c2a1b/items/3"]],
  ]);
  const edits = spanProcessor.process(batch);
  const everySpan = { tag: "spans", val: { start: 0, len: 3 } };
  assert.deepEqual(edits, [
    { tag: "set-attribute", val: [everySpan, "env", { tag: "str", val: "prod" }] },
    { tag: "set-attribute", val: [everySpan, "tier", { tag: "int", val: 2n }] },
    { tag: "set-attribute", val: [{ tag: "span", val: 0 }, "http.route", { tag: "str", val: "/users/{id}" }] },
    {
      tag: "set-attribute",
      val: [{ tag: "span", val: 2 }, "http.route", { tag: "str", val: "/orders/{id}/items/{id}" }],
    },
  ]);
});

test("refuses unknown config keys", () => {
  assert.throws(() => spanProcessor.init('{"sett": {}}'), /unknown key `sett`/);
});
