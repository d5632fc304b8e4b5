// Builds enrich.js into a WebAssembly component:
//   node build.mjs [OUTPUT.wasm]
// Needs `npm install` in this directory first (see package.json).
import { componentize } from "@bytecodealliance/componentize-js";
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "enrich.wasm"));
const { component } = await componentize({
  sourcePath: join(here, "enrich.js"),
  witPath: join(here, "../../../../wit"),
  worldName: "processor",
  // Keep stdio (console output goes to Weft's log); the processor needs no HTTP.
  disableFeatures: ["http", "fetch-event"],
});
await writeFile(out, component);
console.log(`wrote ${out} (${component.byteLength} bytes)`);
