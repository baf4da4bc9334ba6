// Runs quality rules in Pyodide, in a process of its own, for webapp/qualityrules/sandbox.py.
// The process is started ahead of need and serves one rule set for several checks.
//
// argv[2]: Pyodide's folder.
// stdin, one JSON object per line: first {"package": {"qualityrules/x.py": source, ...}};
//   then one check per line, {"spec": {"version", "rules": [...]}, "images": [{width,
//   height, name, annotations}]}. End of input ends the process.
// stdout, per check: one JSON line per image, {"i": index, "problems": [...]}, then
//   {"done": true}.
// stderr: "ready" once Pyodide has started and the doors are closed; "@ <image> <rule>" as
//   each rule starts on each image (the parent's clock for the time limit, and how it knows
//   which rule to blame); "! <reason>" before the process exits on a failure.
//
// The parent starts node with the permission model (reads only of Pyodide's files and this
// script; no writes, child processes, workers or native addons) and without code
// generation from strings (no eval, no Function constructor). Here, before any rule code
// runs: Python's `js` module is an empty object, and the globals that reach out of the
// process (process, fetch, WebSocket...) are deleted, so a rule that climbs from Python
// into JavaScript finds nothing to call. Pyodide's file system is in memory: the host's
// files are not mounted. What the runner itself needs (reading stdin, writing lines) is
// kept in this module's own bindings, which Python cannot reach.
import { constants as fsConstants, readSync, writeSync } from "node:fs";

const pyodideDir = process.argv[2];
const out = (line) => writeSync(1, line + "\n");
const err = (line) => writeSync(2, line + "\n");
const decoder = new TextDecoder();
const chunk = new Uint8Array(1 << 16);
let pending = "";
// Once Pyodide has started, stdin may be non-blocking: a read with nothing there waits a
// few milliseconds on this private cell and tries again (no timers are left for rules).
const pause = Atomics.wait.bind(Atomics, new Int32Array(new SharedArrayBuffer(4)), 0, 0);

/** The next line of stdin (blocking), or null at the end of input. */
function readLine() {
  for (;;) {
    const end = pending.indexOf("\n");
    if (end >= 0) {
      const line = pending.slice(0, end);
      pending = pending.slice(end + 1);
      return line;
    }
    let n;
    try {
      n = readSync(0, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e && e.code === "EAGAIN") {
        pause(5);
        continue;
      }
      throw e;
    }
    if (n === 0) {
      const last = pending;
      pending = "";
      return last ? last : null;
    }
    pending += decoder.decode(chunk.subarray(0, n), { stream: true });
  }
}

// Pyodide's Node file system asks process.binding("constants") at start-up, which the
// permission model refuses; the public fs constants are the same numbers.
process.binding = (name) => {
  if (name === "constants") return { fs: fsConstants };
  throw new Error(`process.binding(${name}) is not available here`);
};

const setup = JSON.parse(readLine() ?? "{}");
const { loadPyodide } = await import(pyodideDir + "/pyodide.mjs");
const silent = { batched: () => {} };
const pyodide = await loadPyodide({
  indexURL: pyodideDir + "/",
  jsglobals: Object.create(null),
  stdin: () => null,
  stdout: () => {},
  stderr: () => {},
  env: {},
});
pyodide.setStdout(silent);
pyodide.setStderr(silent);

for (const [path, source] of Object.entries(setup.package ?? {})) {
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
const fail = (e) => {
  err("! " + String((e && e.message) || e).split("\n").filter(Boolean).slice(-1)[0]);
  // The exit code tells the parent the check did not finish; what was written stands.
  throw e;
};
try {
  pyodide.runPython(`
import sys
sys.path.insert(0, "/rules")
from qualityrules import sandbox
sandbox.close_the_doors()
`);
} catch (e) {
  fail(e);
}
err("ready");

for (let line = readLine(); line !== null; line = readLine()) {
  if (!line.trim()) continue;
  pyodide.globals.set("request_json", line);
  try {
    pyodide.runPython("sandbox.run(request_json, emit_line, mark)");
  } catch (e) {
    fail(e);
  }
  out(JSON.stringify({ done: true }));
}
