// What a plugin hands the host, built from plain JavaScript: the interest `init` returns, its
// attribute selections, the attribute values of edits, and errors that carry the guest's
// stack. weft.js re-exports these; import them from there.

const FIELDS = ["ids", "traceState", "name", "kind", "times", "status", "flags", "events", "links", "droppedCounts"];
const S64 = [-(1n << 63n), (1n << 63n) - 1n];

/** What `init` returns. `fields`: the span fields read, named as the contract's `span-fields`
 *  flags in camelCase ("ids", "traceState", "name", "kind", "times", "status", "flags",
 *  "events", "links", "droppedCounts"); absent means all of them. Each `*Attributes` option
 *  is "all" (the default), "strings", "none" or null, or an array of keys; event and link
 *  attributes are asked for only with the "events" and "links" fields. `packed` (default
 *  true) asks for the packed layout, which `Spans` reads as well as the record one; pass
 *  false if the plugin also reads `batch.spans` itself. */
export function interest({
  fields = FIELDS,
  spanAttributes = "all",
  eventAttributes = "all",
  linkAttributes = "all",
  resourceAttributes = "all",
  scopeAttributes = "all",
  packed = true,
} = {}) {
  const unknown = fields.filter((f) => !FIELDS.includes(f));
  if (unknown.length) {
    throw new RangeError(`unknown span field(s) ${unknown.join(", ")}; the fields are ${FIELDS.join(", ")}`);
  }
  const spanFields = Object.fromEntries(FIELDS.map((f) => [f, fields.includes(f)]));
  spanFields.packed = packed;
  return {
    spanFields,
    spanAttributes: selection(spanAttributes),
    eventAttributes: selection(spanFields.events ? eventAttributes : null),
    linkAttributes: selection(spanFields.links ? linkAttributes : null),
    resourceAttributes: selection(resourceAttributes),
    scopeAttributes: selection(scopeAttributes),
  };
}

/** The contract's `attribute-selection` for "all", "strings", "none" or null, or an array of
 *  keys. */
export function selection(spec) {
  if (spec === null || spec === undefined || spec === "none") return { tag: "none" };
  if (spec === "all" || spec === "strings") return { tag: spec };
  if (!Array.isArray(spec)) {
    throw new TypeError(`attribute selection ${JSON.stringify(spec)}: use "all", "strings", "none" or an array of keys`);
  }
  return { tag: "keys", val: spec.map(String) };
}

/** The contract's `value` for a JavaScript value: a string, boolean, number (an integer is
 *  written as an int, anything else as a double), BigInt, Uint8Array, null or undefined
 *  (empty), or an array or plain object (a key-value list) of those, nested as deep as
 *  needed. */
export function value(v) {
  if (Array.isArray(v) || isPlainObject(v)) {
    const nodes = [];
    node(v, nodes);
    return { tag: "nested", val: nodes };
  }
  return scalar(v);
}

/** Whether `v` is a Uint8Array. Not `instanceof`: inside componentize-js the byte lists the
 *  host sends (the arena, bytes values read from it) come from another realm's Uint8Array. */
export function isBytes(v) {
  return ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === "[object Uint8Array]";
}

function isPlainObject(v) {
  return v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype;
}

function scalar(v) {
  if (v === null || v === undefined) return { tag: "empty" };
  if (typeof v === "string") return { tag: "str", val: v };
  if (typeof v === "boolean") return { tag: "boolean", val: v };
  if (typeof v === "number") return Number.isInteger(v) ? { tag: "int", val: s64(BigInt(v)) } : { tag: "double", val: v };
  if (typeof v === "bigint") return { tag: "int", val: s64(v) };
  if (isBytes(v)) return { tag: "bytes", val: v };
  throw new TypeError(`cannot write ${Object.prototype.toString.call(v)} as an attribute value`);
}

function s64(big) {
  if (big < S64[0] || big > S64[1]) throw new RangeError(`${big} does not fit an attribute's signed 64-bit integer`);
  return big;
}

/** Appends `v` to `nodes` as a tree whose children come after their parent; its index. */
function node(v, nodes) {
  const at = nodes.length;
  nodes.push(null);
  if (Array.isArray(v)) {
    nodes[at] = { tag: "array", val: v.map((x) => node(x, nodes)) };
  } else if (isPlainObject(v)) {
    nodes[at] = { tag: "kvlist", val: Object.entries(v).map(([k, x]) => [k, node(x, nodes)]) };
  } else {
    nodes[at] = scalar(v);
  }
  return at;
}

/** The exported `spanProcessor` for these `init` and `process` functions, with errors made
 *  readable: an exception thrown by either reaches the host as its message followed by the
 *  guest's stack, where componentize-js would pass on the message alone. An error returned
 *  on purpose (a string from `init`, `{ message }` from `process`) passes through as is, and
 *  a string thrown from `process` becomes `{ message }`. */
export function processor({ init, process }) {
  return {
    init(config) {
      try {
        return init(config);
      } catch (e) {
        throw e instanceof Error ? describe(e) : e;
      }
    },
    process(batch) {
      try {
        return process(batch);
      } catch (e) {
        if (e instanceof Error) throw { message: describe(e) };
        throw typeof e === "string" ? { message: e } : e;
      }
    },
  };
}

/** `Name: message` and the stack, without the frames of componentize-js's generated glue. */
export function describe(error) {
  const head = `${error.name}: ${error.message}`;
  const frames = String(error.stack ?? "")
    .split("\n")
    .filter((line) => line.trim() && !line.includes("initializer.js") && line.trim() !== head);
  return [head, ...frames].join("\n");
}
