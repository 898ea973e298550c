/**
 * The example built through two loopback distccd daemons gives the release and the bytes of a
 * local build (npm run test:full: two cold compiles of the example, no ccache). The label is unique
 * to the run so neither side is a store hit; each side builds in its own project folder (own warm
 * tree), the distcc side with KILN_DISTCC_HOSTS (the environment wins over kiln.toml).
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kiln, exampleCopy, removeProject, TEST_HOME, RUN_ID, cellManifest } from "../support/kiln.js";
import { haveCommand, needs, needSource } from "../support/needs.js";
import { startDistccd, distccdCompiles, type Daemon } from "../support/daemons.js";
import { projectId } from "../../src/store/paths.js";

const skip = needSource("6.12") || needs(!haveCommand("distccd") && "distcc is not installed (apt-get install distcc)");
const projects: string[] = [];
const daemons: Daemon[] = [];
const scratch = mkdtempSync(join(tmpdir(), "kiln-distcc-full-"));

after(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
  for (const p of projects) {
    rmSync(join(TEST_HOME, "work", projectId("microvm", p)), { recursive: true, force: true });
    removeProject(p);
  }
  rmSync(scratch, { recursive: true, force: true });
});

/** sha256 of every file in a store entry, by relative path. */
function digests(dir: string, base = dir, out: Record<string, string> = {}): Record<string, string> {
  for (const n of readdirSync(dir)) {
    const f = join(dir, n);
    if (statSync(f).isDirectory()) digests(f, base, out);
    else if (n !== "manifest.json") out[f.slice(base.length + 1)] = createHash("sha256").update(readFileSync(f)).digest("hex");
  }
  return out;
}

test("the example through two distccd daemons: same release, same bytes as a local build, compiles ran remotely", { skip, timeout: 90 * 60_000 }, async () => {
  const label = `distcc-${RUN_ID}`;
  const local = exampleCopy("distcc-local");
  projects.push(local);
  const a = await kiln(["-C", local, "build", "--arch", "x86_64", "--label", label, "--no-ccache"]);
  assert.equal(a.code, 0, a.stderr);
  const ma = cellManifest(local);
  const bytesA = digests(ma.artifacts!.store_entry);
  assert.ok(Object.keys(bytesA).length >= 3, JSON.stringify(bytesA));

  const logs = join(scratch, "logs");
  daemons.push(await startDistccd(logs, "d1", { jobs: 2 }), await startDistccd(logs, "d2", { jobs: 2 }));
  const hosts = daemons.map((d) => `127.0.0.1:${d.port}/2`).join(" ");
  const remote = exampleCopy("distcc-remote");
  projects.push(remote);
  const b = await kiln(["-C", remote, "build", "--arch", "x86_64", "--label", label, "--no-ccache", "--no-reuse"], { env: { KILN_DISTCC_HOSTS: hosts } });
  assert.equal(b.code, 0, b.stderr);
  const mb = cellManifest(remote);
  assert.equal(mb.uts_release, ma.uts_release);
  assert.equal(mb.identity?.digest, ma.identity?.digest);
  assert.deepEqual(digests(mb.artifacts!.store_entry), bytesA);
  const d = mb.compile?.distcc;
  assert.ok(d, "the manifest records distcc");
  assert.equal(d.from, "KILN_DISTCC_HOSTS");
  assert.deepEqual(d.hosts.map((h) => h.host), daemons.map((x) => `127.0.0.1:${x.port}/2`));
  assert.ok(d.remote > 100, JSON.stringify(d));
  assert.ok(d.hosts.every((h) => h.compiles > 0), JSON.stringify(d.hosts));
  const served = daemons.reduce((n, x) => n + distccdCompiles(x.log), 0);
  assert.ok(served >= d.remote, `daemons' logs: ${served} jobs, manifest: ${d.remote} remote compiles`);
});
