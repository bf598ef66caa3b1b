// Runs Python code inside Pyodide under node with chosen files written into its file system.
//
//   node node_pyodide.mjs <pyodide dir> <manifest.json>
//
// The manifest is {"files": {"<path in Pyodide>": "<path on this machine>", ...},
// "sys_path": ["<folder in Pyodide>", ...], "code": "<Python; its last expression is printed>"}.
// See node_pyodide.py, which writes the manifest and reads the result.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, manifestPath] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(manifestPath, "utf-8"));
const { loadPyodide } = await import(pathToFileURL(join(pyodideDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: pyodideDir });
for (const [target, source] of Object.entries(manifest.files)) {
  pyodide.FS.mkdirTree(target.slice(0, target.lastIndexOf("/")));
  pyodide.FS.writeFile(target, readFileSync(source));
}
pyodide.globals.set("_sys_path", pyodide.toPy(manifest.sys_path ?? []));
pyodide.runPython("import sys\nsys.path[:0] = list(_sys_path)");
try {
  console.log(String(pyodide.runPython(manifest.code)));
} catch (err) {
  // Python's traceback alone (an uncaught error would print Pyodide's whole source).
  process.stderr.write(String(err.message ?? err) + "\n");
  process.exit(1);
}
