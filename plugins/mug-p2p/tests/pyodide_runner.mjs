// Runs crosscheck.py inside Pyodide: node pyodide_runner.mjs <pyodide dir> <plugin dir>
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, pluginDir] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(join(pyodideDir, "pyodide.mjs")).href);
const pyodide = await loadPyodide({ indexURL: pyodideDir });

function copyTree(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === "__pycache__") continue;
    if (statSync(path).isDirectory()) copyTree(path);
    else if (name.endsWith(".py")) {
      const target = "/p2p/" + relative(pluginDir, path);
      pyodide.FS.mkdirTree(target.slice(0, target.lastIndexOf("/")));
      pyodide.FS.writeFile(target, readFileSync(path));
    }
  }
}
copyTree(join(pluginDir, "mug_p2p"));
pyodide.FS.writeFile("/p2p/crosscheck.py", readFileSync(join(pluginDir, "tests", "crosscheck.py")));
const result = pyodide.runPython(`
import sys, json
sys.path.insert(0, "/p2p")
import crosscheck
json.dumps(crosscheck.main(), sort_keys=True)
`);
console.log(result);
