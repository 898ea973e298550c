/**
 * kiln-test-lane: side (no shared kiln home, no kernel build, no race against the clock; test/run.sh
 * runs it beside the main lane)
 * Start-up loads what the command runs (docs/adr/0090), checked on the real bin/kiln with a
 * module hook that records every module Node resolves: `kiln --version` loads neither commander
 * nor any command module, `kiln fetch --help` loads the shipping commands and no other command
 * module, and a fetch outside any project never loads the project loader (TOML, zod). No timing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { KILN_BIN, REPO } from "../support/kiln.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-cli-lazy-"));
const hook = join(dir, "hook.mjs");
// the hook runs on Node's loader thread: it appends each resolved URL to the file named by
// KILN_TRACE synchronously, before the main thread gets the module (stderr could be cut at exit)
writeFileSync(hook, `import { appendFileSync } from "node:fs";\nexport async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(process.env.KILN_TRACE, r.url + "\\n"); return r; }\n`);
const reg = join(dir, "register.mjs");
writeFileSync(reg, `import { register } from "node:module"; register(${JSON.stringify(pathToFileURL(hook).href)});\n`);

/** Run bin/kiln with the hook; the modules it loaded (URLs) and its output. */
function traced(args: string[], cwd = dir): { loaded: string[]; stdout: string; status: number | null } {
  const trace = join(dir, "trace.txt");
  rmSync(trace, { force: true });
  const r = spawnSync(process.execPath, ["--import", reg, KILN_BIN, ...args], { cwd, encoding: "utf8", env: { ...process.env, KILN_HOME: join(dir, "home"), NO_COLOR: "1", KILN_TRACE: trace } });
  const loaded = existsSync(trace) ? readFileSync(trace, "utf8").split("\n").filter(Boolean) : [];
  return { loaded, stdout: r.stdout, status: r.status };
}
const commandModules = (urls: string[]) => [...new Set(urls.filter((u) => /\/dist\/src\/commands\/[^/]+\.js$/.test(u)).map((u) => u.split("/").at(-1)!))].sort();

test.after(() => rmSync(dir, { recursive: true, force: true }));

test("kiln --version loads no command module and not commander", () => {
  const r = traced(["--version"]);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  // bin/kiln is CommonJS and answers --version itself: no ES module of kiln's loads at all
  // (the next test shows the same hook recording kiln's modules when they do load)
  assert.deepEqual(r.loaded.filter((u) => u.includes("/dist/src/")), []);
  assert.deepEqual(commandModules(r.loaded), []);
  assert.ok(!r.loaded.some((u) => u.includes("/node_modules/commander/")), `commander loaded: ${r.loaded.join(" ")}`);
});

test("kiln fetch --help loads the shipping commands only; kiln --help loads every command module", () => {
  const f = traced(["fetch", "--help"]);
  assert.equal(f.status, 0);
  assert.match(f.stdout, /Usage: kiln fetch \[options\] <ref>/);
  assert.deepEqual(commandModules(f.loaded), ["context.js", "ship.js"]);
  const h = traced(["--help"]);
  assert.equal(h.status, 0);
  for (const c of ["init", "build", "lock", "check", "manifest", "doctor", "store", "boot", "run", "keygen", "bundle", "publish", "fetch", "config", "report", "patches", "bump", "dev"]) {
    assert.match(h.stdout, new RegExp(`^  ${c} `, "m"), `kiln --help lists ${c}`);
  }
  // every module of src/commands/ (a new command group is listed by being there)
  const all = readdirSync(join(REPO, "dist", "src", "commands")).filter((f) => f.endsWith(".js")).sort();
  assert.ok(all.includes("build.js") && all.includes("ship.js"), all.join(" "));
  assert.deepEqual(commandModules(h.loaded), all);
});

test("kiln fetch outside any project does not load the project loader", () => {
  // no kiln.toml in the temp folder or above it; the fetch fails at once (no remote), having
  // learnt there is no project without TOML or zod
  const r = traced(["fetch", "k@1", "--boot-dir", join(dir, "boot"), "--root", join(dir, "root")]);
  assert.equal(r.status, 1);
  assert.ok(r.loaded.some((u) => u.endsWith("/dist/src/project/find.js")));
  assert.ok(!r.loaded.some((u) => u.endsWith("/dist/src/project/load.js") || u.includes("/node_modules/zod/") || u.includes("/node_modules/smol-toml/")), "the project loader stayed unloaded");
});
