// Reads a Weft batch in either layout as the same plain rows, for weft.js.
//
// A batch arrives as record lists (`batch.spans`, `batch.attributes`, ...) or, when `init`
// asked for the `packed` span field, as fixed-size rows in `batch.packed`. `reader(batch)`
// returns an object that answers the same questions for both: the row of span `i`, event `e`,
// ... as a plain object (a string is an arena slice `[offset, len]`, a list of a table a range
// `[start, len]`, ids BigInts, kind and status code the WIT enum names), the key and decoded
// value of attribute `a`, the text of a slice. Nothing is decoded from the arena until asked.
// The packed layout is read with weft-packed.js, which must sit beside this file.

import { Packed } from "./weft-packed.js";

export const KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];
export const STATUS_CODES = ["unset", "ok", "error"];

const decoder = new TextDecoder();

/** The reader for `batch`'s layout: packed when the batch carries packed bytes. */
export function reader(batch) {
  return batch.packed && batch.packed.byteLength ? new PackedRows(batch) : new RecordRows(batch);
}

/** An s64 as a number when it fits one exactly, else as a BigInt. */
export function integer(big) {
  return big >= Number.MIN_SAFE_INTEGER && big <= Number.MAX_SAFE_INTEGER ? Number(big) : big;
}

/** What both layouts share: the arena, the key table, nested values. */
class Rows {
  constructor(batch) {
    this.batch = batch;
    this.arena = batch.arena;
    this.keys = batch.keys;
  }

  /** The UTF-8 string at arena slice `[offset, len]` (invalid bytes become U+FFFD). */
  text([offset, len]) {
    return decoder.decode(this.arena.subarray(offset, offset + len));
  }

  /** A flattened array or key-value list (`node-view`s, node 0 the root) as arrays and
   *  plain objects. */
  nested(nodes, index = 0) {
    const node = nodes[index];
    // `Array.from`: componentize-js hands a `list<u32>` over as a Uint32Array, whose own `map`
    // would make every child a number.
    if (node.tag === "array") return Array.from(node.val, (child) => this.nested(nodes, child));
    if (node.tag === "kvlist") {
      const entry = ([key, child]) => [this.text(slice(key)), this.nested(nodes, child)];
      return Object.fromEntries(Array.from(node.val, entry));
    }
    return this.scalar(node);
  }

  /** The value of a scalar case of `value-view` or `node-view`. */
  scalar({ tag, val }) {
    switch (tag) {
      case "str": return this.text(slice(val));
      case "bytes": return this.arena.slice(val.offset, val.offset + val.len);
      case "int": return integer(val);
      case "double": case "boolean": return val;
      default: return null;
    }
  }
}

const slice = (s) => [s.offset, s.len];
const range = (r) => [r.start, r.len];
const id128 = (t) => (BigInt(t.high) << 64n) | BigInt(t.low);

/** Reads the record layout (`batch.spans`, `batch.events`, ...). */
export class RecordRows extends Rows {
  constructor(batch) {
    super(batch);
    this.spanCount = batch.spans.length;
  }

  span(i) {
    const s = this.batch.spans[i];
    return {
      scope: s.scope, traceId: id128(s.traceId), spanId: BigInt(s.spanId), parentSpanId: BigInt(s.parentSpanId),
      traceState: slice(s.traceState), name: slice(s.name), kind: s.kind,
      startTimeUnixNano: BigInt(s.startTimeUnixNano), endTimeUnixNano: BigInt(s.endTimeUnixNano),
      attributes: range(s.attributes), droppedAttributesCount: s.droppedAttributesCount,
      events: range(s.events), droppedEventsCount: s.droppedEventsCount,
      links: range(s.links), droppedLinksCount: s.droppedLinksCount,
      statusCode: s.status.code, statusMessage: slice(s.status.message), flags: s.flags,
    };
  }

  event(e) {
    const v = this.batch.events[e];
    return {
      timeUnixNano: BigInt(v.timeUnixNano), name: slice(v.name), attributes: range(v.attributes),
      droppedAttributesCount: v.droppedAttributesCount,
    };
  }

  link(k) {
    const v = this.batch.links[k];
    return {
      traceId: id128(v.traceId), spanId: BigInt(v.spanId), traceState: slice(v.traceState),
      attributes: range(v.attributes), droppedAttributesCount: v.droppedAttributesCount, flags: v.flags,
    };
  }

  scope(i) {
    const v = this.batch.scopes[i];
    return {
      resource: v.resource, name: slice(v.name), version: slice(v.version), attributes: range(v.attributes),
      droppedAttributesCount: v.droppedAttributesCount, schemaUrl: slice(v.schemaUrl),
    };
  }

  resource(i) {
    const v = this.batch.resources[i];
    return {
      attributes: range(v.attributes), droppedAttributesCount: v.droppedAttributesCount, schemaUrl: slice(v.schemaUrl),
    };
  }

  /** Attribute `a`'s key, as an index into `batch.keys`. */
  keyIndex(a) {
    return this.batch.attributes[a].key;
  }

  /** Attribute `a`'s value: a string, number (a BigInt past 2^53), boolean, Uint8Array,
   *  null (empty), or for arrays and key-value lists an array or plain object of those. */
  value(a) {
    const value = this.batch.attributes[a].value;
    return value.tag === "nested" ? this.nested(value.val) : this.scalar(value);
  }
}

/** Reads the packed layout (`batch.packed`) in place, at the byte offsets of
 *  docs/plugin-contract.md ("The packed layout"). */
export class PackedRows extends Rows {
  constructor(batch) {
    super(batch);
    this.packed = new Packed(batch);
    this.data = this.packed.data;
    this.spanCount = this.packed.spanCount;
  }

  u32(at) {
    return this.data.getUint32(at, true);
  }

  u64(at) {
    return this.data.getBigUint64(at, true);
  }

  /** The big-endian id of `bytes` bytes (16 or 8) at `at`. */
  id(at, bytes) {
    let id = 0n;
    for (let i = 0; i < bytes; i += 8) id = (id << 64n) | this.data.getBigUint64(at + i, false);
    return id;
  }

  pair(at) {
    return [this.u32(at), this.u32(at + 4)];
  }

  span(i) {
    const at = this.packed.at("span", i, 0);
    return {
      scope: this.u32(at + 48), traceId: this.id(at, 16), spanId: this.id(at + 16, 8),
      parentSpanId: this.id(at + 24, 8),
      traceState: this.pair(at + 72), name: this.pair(at + 64), kind: KINDS[this.u32(at + 52)],
      startTimeUnixNano: this.u64(at + 32), endTimeUnixNano: this.u64(at + 40),
      attributes: this.pair(at + 88), droppedAttributesCount: this.u32(at + 112),
      events: this.pair(at + 96), droppedEventsCount: this.u32(at + 116),
      links: this.pair(at + 104), droppedLinksCount: this.u32(at + 120),
      statusCode: STATUS_CODES[this.u32(at + 56)], statusMessage: this.pair(at + 80), flags: this.u32(at + 60),
    };
  }

  event(e) {
    const at = this.packed.at("event", e, 0);
    return {
      timeUnixNano: this.u64(at), name: this.pair(at + 12), attributes: this.pair(at + 20),
      droppedAttributesCount: this.u32(at + 28),
    };
  }

  link(k) {
    const at = this.packed.at("link", k, 0);
    return {
      traceId: this.id(at, 16), spanId: this.id(at + 16, 8), traceState: this.pair(at + 28),
      attributes: this.pair(at + 36), droppedAttributesCount: this.u32(at + 44), flags: this.u32(at + 48),
    };
  }

  scope(i) {
    const at = this.packed.at("scope", i, 0);
    return {
      resource: this.u32(at), name: this.pair(at + 4), version: this.pair(at + 12), attributes: this.pair(at + 20),
      droppedAttributesCount: this.u32(at + 28), schemaUrl: this.pair(at + 32),
    };
  }

  resource(i) {
    const at = this.packed.at("resource", i, 0);
    return { attributes: this.pair(at), droppedAttributesCount: this.u32(at + 8), schemaUrl: this.pair(at + 12) };
  }

  keyIndex(a) {
    return this.packed.keyIndex(a);
  }

  /** Attribute `a`'s value, as `RecordRows.value` gives it. */
  value(a) {
    const value = this.packed.value(a);
    if (typeof value === "bigint") return integer(value);
    if (value !== null && typeof value === "object" && "key" in value) return this.nested(value.value.val);
    return value;
  }
}
