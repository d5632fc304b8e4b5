// {{name}}: a Weft span processor in JavaScript.
//
// Drops spans whose name is one of `drop_names` (health checks by default) and passes every
// other span through untouched. Make it yours: `init` says what the host sends, `process`
// returns edits (set or remove attributes, rename, drop); everything a processor does not
// edit passes through byte for byte.
//
// Config (the processor's `config` table in weft.toml):
//   drop_names = ["GET /healthz", "GET /readyz"]

const DEFAULTS = { drop_names: ["GET /healthz", "GET /readyz"] };
const decoder = new TextDecoder();

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

/** A string field of the batch: a slice of its byte arena. */
function text(batch, slice) {
  return decoder.decode(batch.arena.subarray(slice.offset, slice.offset + slice.len));
}

const NONE = { tag: "none" };

export const spanProcessor = {
  init(config) {
    ({ dropNames } = configure(config));
    // Span names only: no attribute crosses into the plugin.
    return {
      spanFields: {
        ids: false, traceState: false, name: true, kind: false, times: false, status: false,
        flags: false, events: false, links: false, droppedCounts: false, packed: false,
      },
      spanAttributes: NONE,
      eventAttributes: NONE,
      linkAttributes: NONE,
      resourceAttributes: NONE,
      scopeAttributes: NONE,
    };
  },

  process(batch) {
    const edits = [];
    batch.spans.forEach((span, index) => {
      if (dropNames.has(text(batch, span.name))) edits.push({ tag: "drop-span", val: index });
    });
    return edits;
  },
};
