// A first Weft processor in JavaScript, written with the friendly view of sdk/javascript/weft.js.
//
// Upper-cases every span's name and masks the local part of a `user.email` attribute
// (`ann@example.com` becomes `***@example.com`). Spans and attributes are read by name as plain
// strings; the edits are collected by `Spans` and returned. `processor` makes an exception
// reach the host with the guest's stack.

import { Spans, interest, processor } from "./weft.js";

/** The address with everything before the `@` hidden. */
export function masked(email) {
  const at = email.lastIndexOf("@");
  return at < 0 ? "***" : `***${email.slice(at)}`;
}

export const spanProcessor = processor({
  init(_config) {
    // Only the span name and one attribute cross into the plugin.
    return interest({
      fields: ["name"], spanAttributes: ["user.email"], resourceAttributes: "none", scopeAttributes: "none",
    });
  },

  process(batch) {
    const spans = new Spans(batch);
    for (const span of spans) {
      if (span.name !== span.name.toUpperCase()) span.rename(span.name.toUpperCase());
      const email = span.attributes.get("user.email");
      if (typeof email === "string") span.setAttribute("user.email", masked(email));
    }
    return spans.edits();
  },
});
