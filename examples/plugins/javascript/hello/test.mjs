// Unit tests of the hello processor on fake batches in both layouts, run with plain Node:
// `npm test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { masked, spanProcessor } from "./hello.js";
import { fakeBatch } from "../../../../sdk/javascript/weft-testing.js";

test("masks emails", () => {
  assert.equal(masked("ann@example.com"), "***@example.com");
  assert.equal(masked("not an address"), "***");
});

for (const packed of [false, true]) {
  test(`upper-cases names and masks the email attribute (${packed ? "packed" : "records"})`, () => {
    const batch = fakeBatch(
      [
        { name: "get /cart", attributes: { "user.email": "ann@example.com" } },
        { name: "SELECT", attributes: { "user.email": 42 } },
      ],
      { packed },
    );
    assert.deepEqual(spanProcessor.process(batch), [
      { tag: "set-name", val: [0, "GET /CART"] },
      { tag: "set-attribute", val: [{ tag: "span", val: 0 }, "user.email", { tag: "str", val: "***@example.com" }] },
    ]);
  });
}
