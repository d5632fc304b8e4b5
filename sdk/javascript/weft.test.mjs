// Unit tests of weft.js (the friendly batch view) on fake batches in both layouts, run with
// plain Node: `node --test sdk/javascript/`.
import { describe as suite, test } from "node:test";
import assert from "node:assert/strict";
import { runInNewContext } from "node:vm";
import { Spans, interest, processor, selection, value } from "./weft.js";
import { fakeBatch } from "./weft-testing.js";

const TRACE = "5b8efff798038103d269b633813fc60c";
const CHECKOUT = {
  name: "GET /cart", kind: "server", traceId: TRACE, spanId: "eee19b7ec3c1b174", traceState: "vendor=1",
  startTimeUnixNano: 1_700_000_000_000_000_000n, endTimeUnixNano: 1_700_000_000_250_000_000n,
  status: ["error", "card declined"], flags: 0x301, droppedAttributesCount: 2,
  attributes: {
    "user.email": "ann@example.com", "http.response.status_code": 402, ratio: 0.25, retry: true,
    big: 1n << 60n, blob: Uint8Array.of(0, 255), tags: ["a", 7, ["deep"]], ctx: { region: "eu", n: 1 },
    nothing: null, "ünïcode": "naïve ✓",
  },
  events: [{ name: "exception", timeUnixNano: 5n, attributes: { "exception.message": "boom" } }, { name: "retry" }],
  links: [{ traceId: "1", spanId: "2", traceState: "k=v", flags: 1, attributes: { "link.kind": "follows" } }],
};
const CHILD = {
  name: "SELECT", kind: "client", traceId: TRACE, spanId: "aa", parentSpanId: "eee19b7ec3c1b174", scope: 1,
  attributes: { "db.system": "pg" },
};
const RESOURCES = [{ attributes: { "service.name": "checkout" }, schemaUrl: "https://opentelemetry.io/schemas/1.26.0" }];
const SCOPES = [{ name: "http", version: "1.2" }, { name: "db", version: "0.1", attributes: { pool: "main" } }];

for (const packed of [false, true]) {
  const spansOf = (spans = [CHECKOUT, CHILD]) => new Spans(fakeBatch(spans, { resources: RESOURCES, scopes: SCOPES, packed }));

  suite(packed ? "packed layout" : "record layout", () => {
    test("reads span fields as JavaScript values", () => {
      const [span, child] = spansOf();
      assert.equal(span.name, "GET /cart");
      assert.deepEqual([span.kind, child.kind], ["server", "client"]);
      assert.deepEqual(span.status, { code: "error", message: "card declined" });
      assert.equal(span.traceId, TRACE);
      assert.equal(span.spanId, "eee19b7ec3c1b174");
      assert.equal(span.parentSpanId, null);
      assert.equal(child.parentSpanId, "eee19b7ec3c1b174");
      assert.equal(child.spanId, "00000000000000aa");
      assert.equal(span.traceState, "vendor=1");
      assert.equal(span.endTimeUnixNano - span.startTimeUnixNano, 250_000_000n);
      assert.deepEqual([span.flags, span.droppedAttributesCount], [0x301, 2]);
    });

    test("fields not sent read as empty", () => {
      const [span] = spansOf([{}]);
      assert.deepEqual([span.name, span.kind, span.status], ["", "unspecified", { code: "unset", message: "" }]);
      assert.deepEqual([span.traceId, span.spanId], ["0".repeat(32), "0".repeat(16)]);
      assert.deepEqual([span.events, span.links, span.attributes.size], [[], [], 0]);
    });

    test("reads attributes by name in every type", () => {
      const attributes = spansOf().at(0).attributes;
      assert.equal(attributes.get("user.email"), "ann@example.com");
      assert.equal(attributes.get("http.response.status_code"), 402);
      assert.equal(attributes.get("ratio"), 0.25);
      assert.equal(attributes.get("retry"), true);
      assert.equal(attributes.get("big"), 1n << 60n);
      assert.deepEqual(attributes.get("blob"), Uint8Array.of(0, 255));
      assert.deepEqual(attributes.get("tags"), ["a", 7, ["deep"]]);
      assert.deepEqual(attributes.get("ctx"), { region: "eu", n: 1 });
      assert.equal(attributes.get("ünïcode"), "naïve ✓");
      assert.equal(attributes.get("nothing"), null);
      assert.equal(attributes.has("nothing"), true);
      assert.equal(attributes.get("missing"), undefined);
      assert.equal(attributes.has("missing"), false);
      assert.equal(attributes.size, 10);
      assert.deepEqual([...attributes.keys()].slice(0, 2), ["user.email", "http.response.status_code"]);
      assert.equal(new Map(attributes).get("ratio"), 0.25);
      assert.equal(attributes.toObject()["db.system"], undefined);
    });

    test("decodes only what is read, and only once", () => {
      const spans = spansOf();
      const values = [], texts = [];
      const { value: readValue, text: readText } = spans._rows;
      spans._rows.value = (a) => (values.push(a), readValue.call(spans._rows, a));
      spans._rows.text = (piece) => (texts.push(piece), readText.call(spans._rows, piece));
      const span = spans.at(0);
      assert.deepEqual([values, texts], [[], []]);
      span.attributes.get("user.email");
      span.attributes.get("user.email");
      assert.equal(values.length, 1);
      texts.length = 0;
      assert.deepEqual([span.name, span.name], ["GET /cart", "GET /cart"]);
      assert.equal(texts.length, 1);
      assert.equal(spans.at(0), span);
    });

    test("events, links, scope and resource", () => {
      const [span, child] = spansOf();
      const [exception, retry] = span.events;
      assert.deepEqual([exception.name, exception.timeUnixNano, retry.name], ["exception", 5n, "retry"]);
      assert.equal(exception.attributes.get("exception.message"), "boom");
      assert.equal(retry.attributes.size, 0);
      const [link] = span.links;
      assert.deepEqual(
        [link.traceId, link.spanId, link.traceState, link.flags],
        ["0".repeat(31) + "1", "0000000000000002", "k=v", 1],
      );
      assert.equal(link.attributes.get("link.kind"), "follows");
      assert.deepEqual([span.scope.name, span.scope.version, child.scope.name], ["http", "1.2", "db"]);
      assert.equal(child.scope.attributes.get("pool"), "main");
      assert.equal(span.resource.attributes.get("service.name"), "checkout");
      assert.equal(child.resource.schemaUrl, "https://opentelemetry.io/schemas/1.26.0");
      assert.equal(span.resource, child.resource);
    });

    test("iterates in order and indexes from the end", () => {
      const spans = spansOf();
      assert.deepEqual([...spans].map((s) => s.name), ["GET /cart", "SELECT"]);
      assert.deepEqual([spans.length, spans.at(-1).index, spans.at(2)], [2, 1, undefined]);
    });

    test("invalid UTF-8 reads with replacement characters", () => {
      const [span] = spansOf([{ name: Uint8Array.of(0x47, 0xff, 0x54) }]);
      assert.equal(span.name, "G\ufffdT");
    });

    test("records edits in order; the view still shows the batch as sent", () => {
      const spans = spansOf();
      const [span, child] = spans;
      span.rename("GET /basket");
      span.setAttribute("user.email", "[REDACTED]");
      span.removeAttribute("blob");
      span.renameAttribute("ratio", "fraction");
      span.setStatus("ok");
      span.setKind("internal");
      span.setTraceState("");
      span.events[0].rename("error");
      span.events[1].drop();
      span.events[0].setAttribute("n", 1);
      span.links[0].removeAttribute("link.kind");
      child.scope.setAttribute("s", true);
      child.resource.setAttribute("r", 1.5);
      child.drop();
      spans.setAttribute("checked", true);
      spans.removeAttribute("tmp");
      const every = { tag: "spans", val: { start: 0, len: 2 } };
      assert.deepEqual(spans.edits(), [
        { tag: "set-name", val: [0, "GET /basket"] },
        { tag: "set-attribute", val: [{ tag: "span", val: 0 }, "user.email", { tag: "str", val: "[REDACTED]" }] },
        { tag: "remove-attribute", val: [{ tag: "span", val: 0 }, "blob"] },
        { tag: "rename-attribute", val: [{ tag: "span", val: 0 }, "ratio", "fraction"] },
        { tag: "set-status", val: [0, "ok", ""] },
        { tag: "set-kind", val: [0, "internal"] },
        { tag: "set-trace-state", val: [0, ""] },
        { tag: "set-event-name", val: [0, 0, "error"] },
        { tag: "drop-event", val: [0, 1] },
        { tag: "set-attribute", val: [{ tag: "event", val: [0, 0] }, "n", { tag: "int", val: 1n }] },
        { tag: "remove-attribute", val: [{ tag: "link", val: [0, 0] }, "link.kind"] },
        { tag: "set-attribute", val: [{ tag: "scope", val: 1 }, "s", { tag: "boolean", val: true }] },
        { tag: "set-attribute", val: [{ tag: "resource", val: 0 }, "r", { tag: "double", val: 1.5 }] },
        { tag: "drop-span", val: 1 },
        { tag: "set-attribute", val: [every, "checked", { tag: "boolean", val: true }] },
        { tag: "remove-attribute", val: [every, "tmp"] },
      ]);
      assert.deepEqual([span.name, span.attributes.get("user.email")], ["GET /cart", "ann@example.com"]);
    });

    test("refuses unknown kinds and status codes", () => {
      const span = spansOf().at(0);
      assert.throws(() => span.setKind("SERVER"), RangeError);
      assert.throws(() => span.setStatus("failed"), RangeError);
    });
  });
}

test("values: scalars, and nested values with children after their parent", () => {
  assert.deepEqual(value("x"), { tag: "str", val: "x" });
  assert.deepEqual(value(3), { tag: "int", val: 3n });
  assert.deepEqual(value(3.5), { tag: "double", val: 3.5 });
  assert.deepEqual(value(-2n), { tag: "int", val: -2n });
  assert.deepEqual(value(undefined), { tag: "empty" });
  assert.deepEqual(value({ a: [1, "x"], b: {} }), {
    tag: "nested",
    val: [
      { tag: "kvlist", val: [["a", 1], ["b", 4]] },
      { tag: "array", val: [2, 3] },
      { tag: "int", val: 1n },
      { tag: "str", val: "x" },
      { tag: "kvlist", val: [] },
    ],
  });
  // Byte lists the host sends come from another realm inside componentize-js.
  assert.deepEqual(value(runInNewContext("new Uint8Array([1, 2])")).tag, "bytes");
  assert.throws(() => value(1n << 63n), RangeError);
  assert.throws(() => value(new Date()), TypeError);
});

test("interest: everything packed by default, or the fields and attributes named", () => {
  const everything = interest();
  assert.ok(Object.values(everything.spanFields).every(Boolean));
  assert.deepEqual(everything.eventAttributes, { tag: "all" });
  const asked = interest({
    fields: ["name", "status"], spanAttributes: ["user.email"], resourceAttributes: "strings", packed: false,
  });
  assert.deepEqual(Object.keys(asked.spanFields).filter((f) => asked.spanFields[f]), ["name", "status"]);
  assert.equal(Object.keys(asked.spanFields).length, 11);
  assert.deepEqual(asked.spanAttributes, { tag: "keys", val: ["user.email"] });
  assert.deepEqual(asked.resourceAttributes, { tag: "strings" });
  assert.deepEqual([asked.eventAttributes, asked.linkAttributes], [{ tag: "none" }, { tag: "none" }]);
  assert.throws(() => interest({ fields: ["names"] }), /unknown span field/);
  assert.throws(() => selection("user.email"), /array of keys/);
});

test("processor: exceptions carry the guest stack; deliberate errors pass through", () => {
  function failing() {
    return null.name;
  }
  const wrapped = processor({
    init: (config) => (config === "{}" ? interest() : failing()),
    process: (batch) => (batch === "string" ? (() => { throw "bad batch"; })() : failing()),
  });
  assert.deepEqual(wrapped.init("{}").spanFields.packed, true);
  assert.throws(() => wrapped.init("x"), (e) => typeof e === "string" && /^TypeError: .*\n.*failing/.test(e));
  assert.throws(() => wrapped.process({}), (e) => /^TypeError: .*\n.*failing/.test(e.message));
  assert.throws(() => wrapped.process("string"), (e) => e.message === "bad batch");
});
