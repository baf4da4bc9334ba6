/**
 * The quality rules' worker: Pyodide (CPython in WebAssembly, from the annotator's own
 * static files) with the repository's ``qualityrules`` package, checking one image at a
 * time with the project's rules, custom ones included, as the server does. It runs off
 * the page's thread, so a rule never delays a click; the page ends the worker when a
 * check takes too long (rules-client.ts).
 */

import type { FromRulesWorker, RuleProblem, RuleSpec, ToRulesWorker } from "./protocol";

/** The part of Pyodide's API used here. */
interface Pyodide {
  runPython(code: string): unknown;
  globals: { set(name: string, value: unknown): void; get(name: string): unknown };
  FS: { mkdirTree(path: string): void; writeFile(path: string, data: string): void };
}
type LoadPyodide = (options: { indexURL: string; stdout?: (s: string) => void; stderr?: (s: string) => void }) => Promise<Pyodide>;

const scope = self as unknown as DedicatedWorkerGlobalScope;
let checker: Promise<(imageJson: string) => string> | null = null;

function post(message: FromRulesWorker): void {
  scope.postMessage(message);
}

async function start(pyodideUrl: string, packageUrl: string, spec: RuleSpec): Promise<(imageJson: string) => string> {
  const started = performance.now();
  const [{ loadPyodide }, sources] = await Promise.all([
    import(/* @vite-ignore */ `${pyodideUrl}pyodide.mjs`) as Promise<{ loadPyodide: LoadPyodide }>,
    fetch(packageUrl).then((r) => r.json() as Promise<Record<string, string>>),
  ]);
  const pyodide = await loadPyodide({ indexURL: pyodideUrl, stdout: () => {}, stderr: () => {} });
  for (const [path, source] of Object.entries(sources)) {
    pyodide.FS.mkdirTree(`/rules/${path.slice(0, path.lastIndexOf("/"))}`);
    pyodide.FS.writeFile(`/rules/${path}`, source);
  }
  pyodide.globals.set("spec_json", JSON.stringify(spec));
  pyodide.runPython(`
import json, sys
sys.path.insert(0, "/rules")
from qualityrules.engine import run_rules
from qualityrules.model import ImageData
from qualityrules.ruleset import rules_from_spec
_rules = rules_from_spec(json.loads(spec_json), custom_rules=True)
def check_image(image_json):
    return json.dumps(run_rules(ImageData.from_dict(json.loads(image_json)), _rules))
`);
  const check = pyodide.globals.get("check_image") as (imageJson: string) => string;
  post({ type: "ready", startMs: performance.now() - started });
  return check;
}

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n").filter(Boolean).slice(-1)[0] ?? "unknown error";
}

scope.onmessage = (event: MessageEvent<ToRulesWorker>) => {
  const message = event.data;
  if (message.type === "init") {
    checker = start(message.pyodideUrl, message.packageUrl, message.spec);
    checker.catch((error: unknown) => post({ type: "failed", id: null, message: describe(error) }));
    return;
  }
  const { id, image } = message;
  void (async () => {
    try {
      if (!checker) throw new Error("the rules were not loaded");
      const check = await checker;
      const began = performance.now();
      const problems = JSON.parse(check(JSON.stringify(image))) as RuleProblem[];
      post({ type: "checked", id, problems, ms: performance.now() - began });
    } catch (error) {
      post({ type: "failed", id, message: describe(error) });
    }
  })();
};
