// Runs quality rules in Pyodide, in a process of its own, for webapp/qualityrules/sandbox.py.
//
// stdin: one JSON object {"pyodide": dir, "package": {"qualityrules/x.py": source, ...},
//   "spec": {"version", "rules": [...]}, "images": [{width, height, name, annotations}],
//   "max_pages": wasm pages Python may use}.
// stdout: one JSON line per image, {"i": index, "problems": [...]}, then {"done": true}.
// stderr: "@ <image> <rule>" as each rule starts on each image (the parent's clock for
//   the time limit, and how it knows which rule to blame), and the reason of a failure.
//
// The parent starts node with the permission model (reads only of Pyodide's files and this
// script; no writes, child processes, workers or native addons) and without code
// generation from strings (no eval, no Function constructor). Here, before any rule code
// runs: Python's `js` module is an empty object, and the globals that reach out of the
// process (process, fetch, WebSocket...) are deleted, so a rule that climbs from Python
// into JavaScript finds nothing to call. Pyodide's file system is in memory: the host's
// files are not mounted.
import { constants as fsConstants, readFileSync, writeSync } from "node:fs";

const out = (line) => writeSync(1, line + "\n");
const err = (line) => writeSync(2, line + "\n");

// Pyodide's Node file system asks process.binding("constants") at start-up, which the
// permission model refuses; the public fs constants are the same numbers.
process.binding = (name) => {
  if (name === "constants") return { fs: fsConstants };
  throw new Error(`process.binding(${name}) is not available here`);
};

const input = JSON.parse(readFileSync(0, "utf8"));
const { loadPyodide } = await import(input.pyodide + "/pyodide.mjs");
const silent = { batched: () => {} };
const pyodide = await loadPyodide({
  indexURL: input.pyodide + "/",
  jsglobals: Object.create(null),
  stdout: () => {},
  stderr: () => {},
  env: {},
});
pyodide.setStdout(silent);
pyodide.setStderr(silent);

for (const [path, source] of Object.entries(input.package)) {
  const parts = ("/rules/" + path).split("/");
  for (let i = 2; i < parts.length; i++) {
    const dir = parts.slice(0, i).join("/");
    if (!pyodide.FS.analyzePath(dir).exists) pyodide.FS.mkdir(dir);
  }
  pyodide.FS.writeFile("/rules/" + path, source);
}

for (const name of [
  "process", "fetch", "WebSocket", "XMLHttpRequest", "EventSource", "Request", "Response",
  "Headers", "FormData", "navigator", "require", "module", "Buffer", "setTimeout",
  "setInterval", "setImmediate", "queueMicrotask", "structuredClone", "BroadcastChannel",
  "MessageChannel", "Worker", "SharedArrayBuffer", "Atomics", "WebAssembly",
  "_createPyodideModule",
]) {
  try {
    delete globalThis[name];
  } catch {
    globalThis[name] = undefined;
  }
}

pyodide.globals.set("emit_line", (line) => out(line));
pyodide.globals.set("mark", (image, rule) => err(`@ ${image} ${rule}`));
pyodide.globals.set("request_json", JSON.stringify({ spec: input.spec, images: input.images }));
try {
  pyodide.runPython(`
import sys
sys.path.insert(0, "/rules")
from qualityrules import sandbox
sandbox.run(request_json, emit_line, mark)
`);
  out(JSON.stringify({ done: true }));
} catch (e) {
  err("! " + String((e && e.message) || e).split("\n").filter(Boolean).slice(-1)[0]);
  // The exit code tells the parent the run did not finish; what was written stands.
  throw e;
}
