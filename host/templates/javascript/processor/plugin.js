// {{name}}: a Weft span processor in JavaScript.
//
// Drops spans whose name is one of `drop_names` (health checks by default) and passes every
// other span through untouched. Make it yours: `init` says what the host sends, `process`
// returns edits (set or remove attributes, rename, drop); everything a processor does not
// edit passes through byte for byte.
//
// Config (the processor's `config` table in weft.toml):
//   drop_names = ["GET /healthz", "GET /readyz"]

import { Spans, interest, processor } from "./weft.js";

const DEFAULTS = { drop_names: ["GET /healthz", "GET /readyz"] };

// Module state: set by `init`, read by `process`.
let dropNames = new Set(DEFAULTS.drop_names);

/** The settings in the config's JSON text; throws a message naming what is wrong. */
export function configure(text) {
  const loaded = JSON.parse(text || "{}");
  for (const key of Object.keys(loaded)) {
    if (!(key in DEFAULTS)) throw `invalid config: unknown key \`${key}\`; expected \`drop_names\``;
  }
  const names = loaded.drop_names ?? DEFAULTS.drop_names;
  if (!Array.isArray(names) || !names.every((n) => typeof n === "string")) {
    throw "invalid config at `drop_names`: expected a list of span names";
  }
  return { dropNames: new Set(names) };
}

// `processor` makes an exception reach Weft with this plugin's own stack trace.
export const spanProcessor = processor({
  init(config) {
    ({ dropNames } = configure(config));
    // Span names only: no attribute crosses into the plugin.
    return interest({
      fields: ["name"], spanAttributes: "none", resourceAttributes: "none", scopeAttributes: "none",
    });
  },

  process(batch) {
    // Spans are read by name as JavaScript values (`span.name`, `span.attributes.get("k")`,
    // `span.status.code`...); methods such as `drop`, `rename` and `setAttribute` record
    // edits, which `spans.edits()` returns.
    const spans = new Spans(batch);
    for (const span of spans) {
      if (dropNames.has(span.name)) span.drop();
    }
    return spans.edits();
  },
});
