// Reads a Weft batch sent in the packed layout (the `packed` span field).
//
// Weft's contract can send a batch's tables as fixed-size little-endian rows in one byte list
// (`batch.packed`) instead of lists of records. JavaScript bindings turn every record into an
// object (~40 for a span with ten attributes), which costs more than most processors' own
// work; a byte list crosses as one Uint8Array and is read here in place. The layout is
// specified in docs/plugin-contract.md ("The packed layout").
//
//   import { Packed, STR } from "./weft-packed.js";
//   const view = new Packed(batch);
//   for (let span = 0; span < view.spanCount; span++) { ... view.spanAttributes(span) ... }

export const LAYOUT_VERSION = 1;
/** Value kinds in an attribute row (the order of the contract's `value-view`). */
export const EMPTY = 0, STR = 1, BOOL = 2, INT = 3, DOUBLE = 4, BYTES = 5, NESTED = 6;
/** What an attribute belongs to (its row's owner kind). */
export const RESOURCE = 0, SCOPE = 1, SPAN = 2, EVENT = 3, LINK = 4;

const HEADER = 32;
const ROW = { resource: 24, scope: 40, span: 128, event: 32, link: 64, attribute: 32 };
const ORDER = ["resource", "scope", "span", "event", "link", "attribute"];
const decoder = new TextDecoder();

/** A packed batch view: counts, and the fields of each row read in place. */
export class Packed {
  constructor(batch) {
    const bytes = batch.packed;
    if (bytes.byteLength < HEADER) {
      throw new Error("the batch is not packed: ask for the `packed` span field in `init`");
    }
    this.batch = batch;
    this.arena = batch.arena;
    this.keys = batch.keys;
    this.data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const version = this.u32(0);
    if (version !== LAYOUT_VERSION) {
      throw new Error(`packed layout version ${version}; this reader knows ${LAYOUT_VERSION}`);
    }
    this.counts = {};
    this.starts = {};
    let at = HEADER;
    ORDER.forEach((table, i) => {
      this.counts[table] = this.u32(4 + 4 * i);
      this.starts[table] = at;
      at += ROW[table] * this.counts[table];
    });
    if (at !== bytes.byteLength) {
      throw new Error(`packed batch is ${bytes.byteLength} bytes; its header describes ${at}`);
    }
  }

  /** How many spans the batch holds (edits address them by index). */
  get spanCount() {
    return this.counts.span;
  }

  /** The `u32` at byte `at` of the packed bytes. */
  u32(at) {
    return this.data.getUint32(at, true);
  }

  /** Byte offset of field `offset` in row `index` of `table`. */
  at(table, index, offset) {
    return this.starts[table] + index * ROW[table] + offset;
  }

  /** Span `span`'s attributes as `{ start, len }` in the attribute table. */
  spanAttributes(span) {
    const at = this.at("span", span, 88);
    return { start: this.u32(at), len: this.u32(at + 4) };
  }

  /** Span `span`'s name (empty unless the interest asked for names). */
  spanName(span) {
    const at = this.at("span", span, 64);
    return this.text(this.u32(at), this.u32(at + 4));
  }

  /** The index in `batch.keys` of attribute `attribute`'s key. */
  keyIndex(attribute) {
    return this.u32(this.at("attribute", attribute, 0));
  }

  /** The key of attribute `attribute`. */
  key(attribute) {
    return this.keys[this.keyIndex(attribute)];
  }

  /** The kind of attribute `attribute`'s value (`STR`, `INT`, ...). */
  kind(attribute) {
    return this.data.getUint8(this.at("attribute", attribute, 4));
  }

  /** Attribute `attribute`'s value: a string, Uint8Array, BigInt, number, boolean, null
   *  (empty), or for arrays and key-value lists the contract's `attribute-view` record. */
  value(attribute) {
    const at = this.at("attribute", attribute, 0);
    const offset = this.u32(at + 12), len = this.u32(at + 16);
    switch (this.kind(attribute)) {
      case STR: return this.text(offset, len);
      case BYTES: return this.arena.slice(offset, offset + len);
      case INT: return this.data.getBigInt64(at + 24, true);
      case DOUBLE: return this.data.getFloat64(at + 24, true);
      case BOOL: return this.data.getUint8(at + 24) !== 0;
      case NESTED: return this.batch.attributes[Number(this.data.getBigUint64(at + 24, true))];
      default: return null;
    }
  }

  /** The UTF-8 string at `offset .. offset + len` of the arena. */
  text(offset, len) {
    return decoder.decode(this.arena.subarray(offset, offset + len));
  }
}
