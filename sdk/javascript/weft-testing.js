// Batches for unit tests in plain Node, built from plain objects, in either layout.
//
//   import { fakeBatch } from "./weft-testing.js";
//   const batch = fakeBatch(
//     [{ name: "GET /users", kind: "server", attributes: { "user.email": "ann@example.com" } }],
//     { resources: [{ attributes: { "service.name": "checkout" } }], packed: true },
//   );
//
// A span sets the fields it names, as in weft.js's `Span`: name, kind, traceId, spanId and
// parentSpanId (hex), traceState, startTimeUnixNano and endTimeUnixNano (BigInts), status
// ([code, message]), flags, attributes (an object of strings, numbers, BigInts, booleans,
// Uint8Arrays, null, arrays and objects), events ({ name, timeUnixNano, attributes }), links
// ({ traceId, spanId, traceState, attributes, flags }), the dropped*Counts, and scope (an
// index into `scopes`). Absent fields hold their empty value, as when the interest did not ask
// for them. With `packed` the tables are the rows of docs/plugin-contract.md ("The packed
// layout"), written field by field.

import { KINDS, STATUS_CODES } from "./weft-rows.js";

const OWNERS = { resource: 0, scope: 1, span: 2, event: 3, link: 4 };
const KIND_CODES = { empty: 0, str: 1, boolean: 2, int: 3, double: 4, bytes: 5, nested: 6 };
const encoder = new TextEncoder();

/** A batch of `spans` with these resources and scopes ({ attributes, schemaUrl }, and for
 *  scopes name, version and resource), in the record layout or, with `packed`, the packed
 *  one. */
export function fakeBatch(spans, { resources = [{}], scopes = [{}], packed = false } = {}) {
  const keys = [], arena = [], attributes = [], events = [], links = [];
  const text = (t) => {
    const bytes = typeof t === "string" ? encoder.encode(t) : t;
    const offset = arena.length;
    arena.push(...bytes);
    return { offset, len: bytes.length };
  };
  const scalar = (v) => {
    if (v === null || v === undefined) return { tag: "empty" };
    if (typeof v === "string") return { tag: "str", val: text(v) };
    if (v instanceof Uint8Array) return { tag: "bytes", val: text(v) };
    if (typeof v === "boolean") return { tag: "boolean", val: v };
    if (typeof v === "bigint") return { tag: "int", val: v };
    return Number.isInteger(v) ? { tag: "int", val: BigInt(v) } : { tag: "double", val: v };
  };
  const node = (v, nodes) => {
    const at = nodes.push(null) - 1;
    // A Uint32Array, as componentize-js hands over a `list<u32>`.
    if (Array.isArray(v)) nodes[at] = { tag: "array", val: Uint32Array.from(v.map((x) => node(x, nodes))) };
    else if (v && typeof v === "object" && !(v instanceof Uint8Array)) {
      nodes[at] = { tag: "kvlist", val: Object.entries(v).map(([k, x]) => [text(k), node(x, nodes)]) };
    } else nodes[at] = scalar(v);
    return at;
  };
  const owned = (items, owner, index) => {
    const start = attributes.length;
    for (const [key, v] of Object.entries(items ?? {})) {
      if (!keys.includes(key)) keys.push(key);
      const nested = v !== null && typeof v === "object" && !(v instanceof Uint8Array);
      const value = nested ? { tag: "nested", val: ((n) => (node(v, n), n))([]) } : scalar(v);
      attributes.push({ key: keys.indexOf(key), value, owner: OWNERS[owner], index });
    }
    return { start, len: attributes.length - start };
  };
  const id = (hex) => BigInt(`0x${hex || "0"}`);
  const traceId = (hex) => ({ high: id(hex) >> 64n, low: id(hex) & ((1n << 64n) - 1n) });

  const resourceRecords = resources.map((r, i) => ({
    attributes: owned(r.attributes, "resource", i), droppedAttributesCount: 0, schemaUrl: text(r.schemaUrl ?? ""),
  }));
  const scopeRecords = scopes.map((s, i) => ({
    resource: s.resource ?? 0, name: text(s.name ?? ""), version: text(s.version ?? ""),
    attributes: owned(s.attributes, "scope", i), droppedAttributesCount: 0, schemaUrl: text(s.schemaUrl ?? ""),
  }));
  const spanRecords = spans.map((s, i) => {
    const attrs = owned(s.attributes, "span", i);
    const firstEvent = events.length;
    for (const e of s.events ?? []) {
      const a = owned(e.attributes, "event", events.length);
      events.push({
        span: i, timeUnixNano: e.timeUnixNano ?? 0n, name: text(e.name ?? ""), attributes: a, droppedAttributesCount: 0,
      });
    }
    const firstLink = links.length;
    for (const k of s.links ?? []) {
      const a = owned(k.attributes, "link", links.length);
      links.push({
        span: i, traceId: traceId(k.traceId), spanId: id(k.spanId), traceState: text(k.traceState ?? ""),
        attributes: a, droppedAttributesCount: 0, flags: k.flags ?? 0,
      });
    }
    const [code, message] = s.status ?? ["unset", ""];
    return {
      scope: s.scope ?? 0, traceId: traceId(s.traceId), spanId: id(s.spanId), parentSpanId: id(s.parentSpanId),
      traceState: text(s.traceState ?? ""), name: text(s.name ?? ""), kind: s.kind ?? "unspecified",
      startTimeUnixNano: s.startTimeUnixNano ?? 0n, endTimeUnixNano: s.endTimeUnixNano ?? 0n, attributes: attrs,
      droppedAttributesCount: s.droppedAttributesCount ?? 0,
      events: { start: firstEvent, len: events.length - firstEvent }, droppedEventsCount: s.droppedEventsCount ?? 0,
      links: { start: firstLink, len: links.length - firstLink },
      droppedLinksCount: s.droppedLinksCount ?? 0, status: { code, message: text(message) }, flags: s.flags ?? 0,
    };
  });
  const bytes = Uint8Array.from(arena);
  if (!packed) {
    return {
      keys, arena: bytes, attributes: attributes.map(({ key, value }) => ({ key, value })), events, links,
      resources: resourceRecords, scopes: scopeRecords, spans: spanRecords, packed: new Uint8Array(0),
    };
  }
  const nested = [];
  const data = pack(resourceRecords, scopeRecords, spanRecords, events, links, attributes, nested);
  return {
    keys, arena: bytes, attributes: nested, events: [], links: [], resources: [], scopes: [], spans: [], packed: data,
  };
}

/** The tables as packed rows; nested values go to `nested`, which the rows point into. */
function pack(resources, scopes, spans, events, links, attributes, nested) {
  const sizes = { resource: 24, scope: 40, span: 128, event: 32, link: 64, attribute: 32 };
  const counts = [resources.length, scopes.length, spans.length, events.length, links.length, attributes.length];
  const total = 32 + counts.reduce((n, c, i) => n + c * Object.values(sizes)[i], 0);
  const view = new DataView(new ArrayBuffer(total));
  [1, ...counts, 0].forEach((v, i) => view.setUint32(4 * i, v, true));
  let at = 32;
  const row = (size, write) => (write(at), (at += size));
  const u32 = (o, v) => view.setUint32(o, v, true);
  const pair = (o, a, b) => (u32(o, a), u32(o + 4, b));
  const s = (o, piece) => pair(o, piece.offset, piece.len);
  const r = (o, items) => pair(o, items.start, items.len);
  const id = (o, t) => (view.setBigUint64(o, t.high, false), view.setBigUint64(o + 8, t.low, false));
  for (const x of resources) row(24, (o) => (r(o, x.attributes), s(o + 12, x.schemaUrl)));
  for (const x of scopes) {
    row(40, (o) => {
      u32(o, x.resource), s(o + 4, x.name), s(o + 12, x.version), r(o + 20, x.attributes), s(o + 32, x.schemaUrl);
    });
  }
  for (const x of spans) {
    row(128, (o) => {
      id(o, x.traceId);
      view.setBigUint64(o + 16, x.spanId, false);
      view.setBigUint64(o + 24, x.parentSpanId, false);
      view.setBigUint64(o + 32, x.startTimeUnixNano, true);
      view.setBigUint64(o + 40, x.endTimeUnixNano, true);
      const codes = [x.scope, KINDS.indexOf(x.kind), STATUS_CODES.indexOf(x.status.code), x.flags];
      codes.forEach((v, i) => u32(o + 48 + 4 * i, v));
      s(o + 64, x.name), s(o + 72, x.traceState), s(o + 80, x.status.message);
      r(o + 88, x.attributes), r(o + 96, x.events), r(o + 104, x.links);
      u32(o + 112, x.droppedAttributesCount), u32(o + 116, x.droppedEventsCount), u32(o + 120, x.droppedLinksCount);
    });
  }
  for (const x of events) {
    row(32, (o) => {
      view.setBigUint64(o, x.timeUnixNano, true), u32(o + 8, x.span), s(o + 12, x.name), r(o + 20, x.attributes);
    });
  }
  for (const x of links) {
    row(64, (o) => {
      id(o, x.traceId);
      view.setBigUint64(o + 16, x.spanId, false);
      u32(o + 24, x.span), s(o + 28, x.traceState), r(o + 36, x.attributes), u32(o + 48, x.flags);
    });
  }
  for (const x of attributes) {
    row(32, (o) => {
      u32(o, x.key);
      view.setUint8(o + 4, KIND_CODES[x.value.tag]);
      view.setUint8(o + 5, x.owner);
      u32(o + 8, x.index);
      const { tag, val } = x.value;
      if (tag === "str" || tag === "bytes") s(o + 12, val);
      if (tag === "boolean") view.setUint8(o + 24, val ? 1 : 0);
      if (tag === "int") view.setBigInt64(o + 24, val, true);
      if (tag === "double") view.setFloat64(o + 24, val, true);
      if (tag === "nested") view.setBigUint64(o + 24, BigInt(nested.push({ key: 0, value: x.value }) - 1), true);
    });
  }
  return new Uint8Array(view.buffer);
}
