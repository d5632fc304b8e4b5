// {{name}}: a Weft tail-sampling policy in JavaScript.
//
// Keeps a whole trace when one of its spans failed or when it lasted at least
// `slower_than_ms`; drops every other trace. The host hands `decide` complete traces (all
// their spans, with names, kinds, times and status); ask in `init` for attributes too.
//
// Config (the policy's `config` table in weft.toml):
//   slower_than_ms = 1000

import { Spans, interest } from "./weft.js";

const DEFAULTS = { slower_than_ms: 1000 };

// Module state: set by `init`, read by `decide`.
let slowerThanNanos = BigInt(DEFAULTS.slower_than_ms) * 1_000_000n;

/** The settings in the config's JSON text; throws a message naming what is wrong. */
export function configure(text) {
  const loaded = JSON.parse(text || "{}");
  for (const key of Object.keys(loaded)) {
    if (!(key in DEFAULTS)) throw `invalid config: unknown key \`${key}\`; expected \`slower_than_ms\``;
  }
  const ms = loaded.slower_than_ms ?? DEFAULTS.slower_than_ms;
  if (!Number.isInteger(ms) || ms < 0) {
    throw "invalid config at `slower_than_ms`: expected a whole number of milliseconds";
  }
  return { slowerThanNanos: BigInt(ms) * 1_000_000n };
}

/** Keep (and why) or drop one trace, given its spans (weft.js `Span`s; times are BigInt
 *  nanoseconds). */
export function verdict(spans) {
  if (spans.some((span) => span.status.code === "error")) return { keep: true, reason: "error" };
  let start = spans[0].startTimeUnixNano;
  let end = spans[0].endTimeUnixNano;
  for (const span of spans) {
    if (span.startTimeUnixNano < start) start = span.startTimeUnixNano;
    if (span.endTimeUnixNano > end) end = span.endTimeUnixNano;
  }
  if (end - start >= slowerThanNanos) return { keep: true, reason: "slow" };
  return { keep: false, reason: "" };
}

export const tracePolicy = {
  init(config) {
    ({ slowerThanNanos } = configure(config));
    // Names, kinds, times and status are always sent to a policy; no attribute is needed.
    return interest({
      fields: ["times", "status"], spanAttributes: "none", resourceAttributes: "none", scopeAttributes: "none",
    });
  },

  decide(batch, traces, _nowUnixNano) {
    // Each range is one complete trace: a run of the batch's spans.
    const spans = new Spans(batch);
    return traces.map(({ start, len }) => {
      const trace = [];
      for (let i = start; i < start + len; i++) trace.push(spans.at(i));
      return verdict(trace);
    });
  },
};
