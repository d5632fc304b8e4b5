// Builds plugin.js into a WebAssembly component with componentize-js:
//   node build.mjs [OUTPUT.wasm]        (what `weft plugin build` runs)
// Needs `npm install` here first (`weft plugin build` runs it when node_modules is missing).
import { componentize } from "@bytecodealliance/componentize-js";
import { copyFile, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "{{name}}.wasm"));
// componentize-js reads the module and the modules it imports from one directory: stage
// plugin.js with Weft's helpers (every .js file here).
const stage = await mkdtemp(join(tmpdir(), "{{name}}-"));
for (const file of await readdir(here)) {
  if (file.endsWith(".js")) await copyFile(join(here, file), join(stage, file));
}
const { component } = await componentize({
  sourcePath: join(stage, "plugin.js"),
  witPath: join(here, "wit"),
  worldName: "{{world}}",
  // Keep stdio (console output goes to Weft's log); a plugin needs no HTTP.
  disableFeatures: ["http", "fetch-event"],
});
await rm(stage, { recursive: true, force: true });
await writeFile(out, component);
console.log(`wrote ${out} (${component.byteLength} bytes)`);
