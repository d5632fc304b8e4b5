// Builds hello.js into a WebAssembly component:
//   node build.mjs [OUTPUT.wasm]
// Needs `npm install` in this directory first (see package.json).
import { componentize } from "@bytecodealliance/componentize-js";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const sdk = join(here, "../../../../sdk/javascript");
const out = resolve(process.argv[2] ?? join(here, "hello.wasm"));
// componentize-js reads the module and the modules it imports from one directory: stage the
// processor with the friendly view and the modules it imports (weft.js is linked here for
// `npm test`).
const stage = await mkdtemp(join(tmpdir(), "weft-hello-"));
await copyFile(join(here, "hello.js"), join(stage, "hello.js"));
for (const file of ["weft.js", "weft-build.js", "weft-rows.js", "weft-packed.js"]) {
  await copyFile(join(sdk, file), join(stage, file));
}
const { component } = await componentize({
  sourcePath: join(stage, "hello.js"),
  witPath: join(here, "../../../../wit"),
  worldName: "processor",
  // Keep stdio (console output goes to Weft's log); the processor needs no HTTP.
  disableFeatures: ["http", "fetch-event"],
});
await rm(stage, { recursive: true, force: true });
await writeFile(out, component);
console.log(`wrote ${out} (${component.byteLength} bytes)`);
