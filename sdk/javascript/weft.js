// Weft batches as JavaScript objects: span fields and attributes by name, edits by method.
//
//   import { Spans, interest, processor } from "./weft.js";
//
//   export const spanProcessor = processor({
//     init(config) {
//       return interest({ fields: ["name"], spanAttributes: ["user.email"] });
//     },
//     process(batch) {
//       const spans = new Spans(batch);
//       for (const span of spans) {
//         if (span.name.startsWith("GET ")) span.rename(span.name.toLowerCase());
//         if (span.attributes.has("user.email")) span.setAttribute("user.email", "[REDACTED]");
//       }
//       return spans.edits();
//     },
//   });
//
// Every string is decoded from the batch arena only when it is read, and kept once decoded.
// The view shows the batch as the host sent it; the methods that change something (`rename`,
// `setAttribute`, `drop`, ...) only record an edit, and `spans.edits()` returns them in order
// for `process` to return. Both layouts read the same (`interest` asks for the packed one,
// which crosses into the plugin cheaper). Needs weft-build.js, weft-rows.js and weft-packed.js
// beside it (componentize-js reads imported modules from the source's own directory).

import { KINDS, STATUS_CODES, reader } from "./weft-rows.js";
import { value } from "./weft-build.js";

export { KINDS, STATUS_CODES } from "./weft-rows.js";
export { interest, processor, selection, value } from "./weft-build.js";

/** Stores `result` as an own property `key` of `target`, shadowing the getter that computed
 *  it, so the next read costs nothing. */
function keep(target, key, result) {
  Object.defineProperty(target, key, { value: result, enumerable: true });
  return result;
}

const hex = (id, digits) => id.toString(16).padStart(digits, "0");

/** The attributes of a span, event, link, scope or resource, read-only and Map-like: `get`,
 *  `has`, `size`, `keys()`, `values()`, `entries()`, iteration as [key, value] pairs. Values
 *  are strings, numbers (a BigInt past 2^53), booleans, Uint8Arrays, null for an empty value,
 *  and arrays or plain objects for arrays and key-value lists; each is decoded when first
 *  read. */
export class Attributes {
  #rows; #start; #len; #positions = null; #values = new Map();

  constructor(rows, [start, len]) {
    this.#rows = rows;
    this.#start = start;
    this.#len = len;
  }

  /** Key -> position in the batch's attribute table (the first, should a key repeat). */
  #index() {
    if (this.#positions === null) {
      this.#positions = new Map();
      for (let a = this.#start; a < this.#start + this.#len; a++) {
        const key = this.#rows.keys[this.#rows.keyIndex(a)];
        if (!this.#positions.has(key)) this.#positions.set(key, a);
      }
    }
    return this.#positions;
  }

  /** The value of `key`, or `undefined` when the attribute is absent (`null` is an empty
   *  value). */
  get(key) {
    if (!this.#values.has(key)) {
      const at = this.#index().get(key);
      if (at === undefined) return undefined;
      this.#values.set(key, this.#rows.value(at));
    }
    return this.#values.get(key);
  }

  has(key) {
    return this.#index().has(key);
  }

  get size() {
    return this.#index().size;
  }

  keys() {
    return this.#index().keys();
  }

  *values() {
    for (const key of this.keys()) yield this.get(key);
  }

  *entries() {
    for (const key of this.keys()) yield [key, this.get(key)];
  }

  [Symbol.iterator]() {
    return this.entries();
  }

  /** Every attribute as a plain object. */
  toObject() {
    return Object.fromEntries(this.entries());
  }
}

/** Something with attributes that an attribute edit can target. */
class Owner {
  get attributes() {
    return keep(this, "attributes", new Attributes(this._spans._rows, this._row.attributes));
  }

  get droppedAttributesCount() {
    return this._row.droppedAttributesCount;
  }

  /** Records an edit setting attribute `key` to `v` (see `value` for the types). */
  setAttribute(key, v) {
    this._spans.add({ tag: "set-attribute", val: [this._target(), key, value(v)] });
  }

  /** Records an edit removing attribute `key` (nothing happens if it is absent). */
  removeAttribute(key) {
    this._spans.add({ tag: "remove-attribute", val: [this._target(), key] });
  }

  /** Records an edit renaming attribute `key` to `newKey`, keeping its value. */
  renameAttribute(key, newKey) {
    this._spans.add({ tag: "rename-attribute", val: [this._target(), key, newKey] });
  }

  _text(field) {
    return this._spans._rows.text(this._row[field]);
  }
}

/** The resource that produced some spans; an edit to it applies to all of them. */
export class Resource extends Owner {
  constructor(spans, index) {
    super();
    Object.assign(this, { _spans: spans, index, _row: spans._rows.resource(index) });
  }
  _target() { return { tag: "resource", val: this.index }; }
  get schemaUrl() { return keep(this, "schemaUrl", this._text("schemaUrl")); }
}

/** The instrumentation scope of some spans (its name and version are always sent). */
export class Scope extends Owner {
  constructor(spans, index) {
    super();
    Object.assign(this, { _spans: spans, index, _row: spans._rows.scope(index) });
  }
  _target() { return { tag: "scope", val: this.index }; }
  get name() { return keep(this, "name", this._text("name")); }
  get version() { return keep(this, "version", this._text("version")); }
  get schemaUrl() { return keep(this, "schemaUrl", this._text("schemaUrl")); }
  get resource() { return this._spans.resource(this._row.resource); }
}

/** Event `index` of span `span` (a `Span`). */
export class Event extends Owner {
  constructor(span, index, position) {
    super();
    Object.assign(this, { _spans: span._spans, span, index, _row: span._spans._rows.event(position) });
  }
  _target() { return { tag: "event", val: [this.span.index, this.index] }; }
  get name() { return keep(this, "name", this._text("name")); }
  /** A BigInt. */
  get timeUnixNano() { return this._row.timeUnixNano; }
  /** Records an edit renaming the event. */
  rename(name) { this._spans.add({ tag: "set-event-name", val: [this.span.index, this.index, name] }); }
  /** Records an edit removing the event from its span. */
  drop() { this._spans.add({ tag: "drop-event", val: [this.span.index, this.index] }); }
}

/** Link `index` of span `span`: the linked span's ids as hex, its trace state and flags. */
export class Link extends Owner {
  constructor(span, index, position) {
    super();
    Object.assign(this, { _spans: span._spans, span, index, _row: span._spans._rows.link(position) });
  }
  _target() { return { tag: "link", val: [this.span.index, this.index] }; }
  get traceId() { return hex(this._row.traceId, 32); }
  get spanId() { return hex(this._row.spanId, 16); }
  get traceState() { return keep(this, "traceState", this._text("traceState")); }
  get flags() { return this._row.flags; }
}

/** Span `index` of the batch. Fields the interest did not ask for read as their empty value:
 *  "" for strings, 0 for numbers and ids ("000..."), "unspecified", no events. */
export class Span extends Owner {
  constructor(spans, index) {
    super();
    Object.assign(this, { _spans: spans, index, _row: spans._rows.span(index) });
  }
  _target() { return { tag: "span", val: this.index }; }
  get name() { return keep(this, "name", this._text("name")); }
  /** One of `KINDS`: "server", "client", ... */
  get kind() { return this._row.kind; }
  /** `{ code, message }`, code one of `STATUS_CODES`. */
  get status() {
    return keep(this, "status", { code: this._row.statusCode, message: this._text("statusMessage") });
  }
  /** 32 lowercase hex digits. */
  get traceId() { return keep(this, "traceId", hex(this._row.traceId, 32)); }
  /** 16 lowercase hex digits. */
  get spanId() { return keep(this, "spanId", hex(this._row.spanId, 16)); }
  /** 16 hex digits, or null for a root span. */
  get parentSpanId() { return this._row.parentSpanId ? hex(this._row.parentSpanId, 16) : null; }
  get traceState() { return keep(this, "traceState", this._text("traceState")); }
  /** BigInts, like every u64 of the contract. */
  get startTimeUnixNano() { return this._row.startTimeUnixNano; }
  get endTimeUnixNano() { return this._row.endTimeUnixNano; }
  get flags() { return this._row.flags; }
  get droppedEventsCount() { return this._row.droppedEventsCount; }
  get droppedLinksCount() { return this._row.droppedLinksCount; }
  get events() {
    const [start, len] = this._row.events;
    return keep(this, "events", Array.from({ length: len }, (_, j) => new Event(this, j, start + j)));
  }
  get links() {
    const [start, len] = this._row.links;
    return keep(this, "links", Array.from({ length: len }, (_, j) => new Link(this, j, start + j)));
  }
  get scope() { return this._spans.scope(this._row.scope); }
  get resource() { return this.scope.resource; }

  /** Records an edit replacing the span's name. */
  rename(name) { this._spans.add({ tag: "set-name", val: [this.index, name] }); }
  /** Records an edit replacing the status; `code` is one of `STATUS_CODES`. */
  setStatus(code, message = "") {
    this._spans.add({ tag: "set-status", val: [this.index, oneOf(STATUS_CODES, code), message] });
  }
  /** Records an edit replacing the kind; `kind` is one of `KINDS`. */
  setKind(kind) { this._spans.add({ tag: "set-kind", val: [this.index, oneOf(KINDS, kind)] }); }
  /** Records an edit replacing the W3C trace-state. */
  setTraceState(traceState) { this._spans.add({ tag: "set-trace-state", val: [this.index, traceState] }); }
  /** Records an edit dropping the span from the batch. */
  drop() { this._spans.add({ tag: "drop-span", val: this.index }); }
}

function oneOf(names, name) {
  if (!names.includes(name)) throw new RangeError(`${JSON.stringify(name)} is not one of ${names.join(", ")}`);
  return name;
}

/** The spans of a batch, in order (`length`, iteration, `at(i)`), and the edits recorded on
 *  them. */
export class Spans {
  constructor(batch) {
    this._rows = reader(batch);
    this._spans = new Array(this._rows.spanCount);
    this._scopes = new Map();
    this._resources = new Map();
    this._edits = [];
  }

  get length() {
    return this._spans.length;
  }

  /** Span `i` (negative counts from the end), or undefined past either end. */
  at(i) {
    const index = i < 0 ? this._spans.length + i : i;
    if (!(index >= 0 && index < this._spans.length)) return undefined;
    return (this._spans[index] ??= new Span(this, index));
  }

  *[Symbol.iterator]() {
    for (let i = 0; i < this._spans.length; i++) yield this.at(i);
  }

  /** Scope `index` of the batch, read once. */
  scope(index) {
    if (!this._scopes.has(index)) this._scopes.set(index, new Scope(this, index));
    return this._scopes.get(index);
  }

  /** Resource `index` of the batch, read once. */
  resource(index) {
    if (!this._resources.has(index)) this._resources.set(index, new Resource(this, index));
    return this._resources.get(index);
  }

  /** Records one edit setting attribute `key` to `v` on every span of the batch. */
  setAttribute(key, v) {
    this.add({ tag: "set-attribute", val: [this.#everySpan(), key, value(v)] });
  }

  /** Records one edit removing attribute `key` from every span of the batch. */
  removeAttribute(key) {
    this.add({ tag: "remove-attribute", val: [this.#everySpan(), key] });
  }

  #everySpan() {
    return { tag: "spans", val: { start: 0, len: this._spans.length } };
  }

  /** Records an edit written by hand in the contract's shape (`{ tag, val }`). */
  add(edit) {
    this._edits.push(edit);
  }

  /** The edits recorded so far, in order: what `process` returns. */
  edits() {
    return this._edits;
  }
}
