// A span-enrichment processor for Weft, in JavaScript (built with componentize-js).
//
// Config (the processor's `config` table in weft.toml):
//   set = { "deployment.environment" = "prod" }   # attributes upserted on every span
//   route_from = "url.path"                        # derive `http.route` from this attribute
//
// Adds the `set` attributes to every span, and `http.route` with ids replaced by `{id}`
// (`/users/123/orders/9f3c2a1b` -> `/users/{id}/orders/{id}`) when the span has none.

import { Packed, STR } from "./weft-packed.js";

// Module state: set by `init`, read by `process`.
let settings = { set: {}, routeFrom: "url.path" };

/** Replaces path segments that look like identifiers with `{id}` and drops the query. */
export function normalizeRoute(path) {
  return path
    .split(/[?#]/)[0]
    .split("/")
    .map((segment) => (isIdentifier(segment) ? "{id}" : segment))
    .join("/");
}

function isIdentifier(segment) {
  if (segment === "") return false;
  if (/^[0-9]+$/.test(segment)) return true;
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(segment)) return true;
  return /^[0-9a-f]{8,}$/i.test(segment) && /[0-9]/.test(segment);
}

function value(v) {
  if (typeof v === "boolean") return { tag: "boolean", val: v };
  if (typeof v === "number" && Number.isInteger(v)) return { tag: "int", val: BigInt(v) };
  if (typeof v === "number") return { tag: "double", val: v };
  return { tag: "str", val: String(v) };
}

const NONE = { tag: "none" };

export const spanProcessor = {
  init(config) {
    const parsed = JSON.parse(config || "{}");
    for (const key of Object.keys(parsed)) {
      if (key !== "set" && key !== "route_from") {
        throw `invalid config: unknown key \`${key}\`; expected \`set\` or \`route_from\``;
      }
    }
    settings = { set: parsed.set ?? {}, routeFrom: parsed.route_from ?? "url.path" };
    return {
      spanFields: {
        ids: false, traceState: false, name: false, kind: false, times: false,
        status: false, flags: false, events: false, links: false, droppedCounts: false,
        // Rows in one byte list instead of an object per span and attribute.
        packed: true,
      },
      // Read only the two keys the processor looks at.
      spanAttributes: { tag: "keys", val: [settings.routeFrom, "http.route"] },
      eventAttributes: NONE,
      linkAttributes: NONE,
      resourceAttributes: NONE,
      scopeAttributes: NONE,
    };
  },

  process(batch) {
    // The batch arrives packed (see `init`): rows are read in place, keys compared by index.
    const view = new Packed(batch);
    const routeFrom = batch.keys.indexOf(settings.routeFrom);
    const route = batch.keys.indexOf("http.route");
    // Each `set` attribute is one edit for every span of the batch.
    const everySpan = { tag: "spans", val: { start: 0, len: view.spanCount } };
    const edits = Object.entries(settings.set).map(([key, v]) => ({
      tag: "set-attribute",
      val: [everySpan, key, value(v)],
    }));
    for (let index = 0; index < view.spanCount; index++) {
      const target = { tag: "span", val: index };
      let path = null;
      let hasRoute = false;
      const { start, len } = view.spanAttributes(index);
      for (let attribute = start; attribute < start + len; attribute++) {
        const key = view.keyIndex(attribute);
        if (key === route) hasRoute = true;
        if (key === routeFrom && view.kind(attribute) === STR) path = view.value(attribute);
      }
      if (path !== null && !hasRoute) {
        edits.push({ tag: "set-attribute", val: [target, "http.route", { tag: "str", val: normalizeRoute(path) }] });
      }
    }
    return edits;
  },
};
