// Bundles the annotator into webapp/annotator/assets/ (served by the annotator app with
// the headers cross-origin isolation needs; ignored by git) and copies onnxruntime-web's
// wasm files next to it: no CDN.
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "webapp", "annotator", "assets");
// onnxruntime-web's files go to a folder named after its version, so that browsers may
// cache them for good (the annotator serves ort-* folders as immutable).
const ortVersion = JSON.parse(
  readFileSync(join(here, "node_modules", "onnxruntime-web", "package.json"), "utf8"),
).version;
const ortDir = `ort-${ortVersion}`;
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, ortDir), { recursive: true });

await build({
  entryPoints: {
    annotator: join(here, "src/annotator/main.ts"),
    "decoder.worker": join(here, "src/annotator/decoder.worker.ts"),
    // "Start labelling" / "Start reviewing": finds the next image, then opens the annotator.
    "queue-start": join(here, "src/annotator/queue-start.ts"),
    // Quality rules (#17): Pyodide's worker, started once the page is idle.
    "rules.worker": join(here, "src/rules/rules.worker.ts"),
  },
  outdir: out,
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: true,
  // onnxruntime-web's build that loads its wasm from wasmPaths instead of inlining it.
  conditions: ["onnxruntime-web-use-extern-wasm"],
  logLevel: "warning",
});

const dist = join(here, "node_modules", "onnxruntime-web", "dist");
for (const file of ["ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]) {
  copyFileSync(join(dist, file), join(out, ortDir, file));
}
// ---- Quality rules (#17) ----
// Pyodide's runtime files, in a folder named after its version (served as immutable), and
// the repository's qualityrules package as one JSON file {"qualityrules/x.py": source}.
const pyodideDir = join(here, "node_modules", "pyodide");
const pyodideVersion = JSON.parse(readFileSync(join(pyodideDir, "package.json"), "utf8")).version;
mkdirSync(join(out, `pyodide-${pyodideVersion}`), { recursive: true });
for (const file of ["pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"]) {
  copyFileSync(join(pyodideDir, file), join(out, `pyodide-${pyodideVersion}`, file));
}
const rulesPackage = join(here, "..", "qualityrules");
const sources = Object.fromEntries(
  readdirSync(rulesPackage)
    .filter((name) => name.endsWith(".py"))
    .sort()
    .map((name) => [`qualityrules/${name}`, readFileSync(join(rulesPackage, name), "utf8")]),
);
writeFileSync(join(out, "qualityrules.json"), JSON.stringify(sources));

console.log(`built ${out}`);
