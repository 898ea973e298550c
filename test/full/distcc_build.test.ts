/**
 * The example compiled two more ways gives the release and the bytes of the test store's kernel,
 * which kiln built with ccache (npm run test:full: two cold compiles of the example):
 *   1. locally with --no-ccache: ccache on and off give the same bytes (ADR 0105);
 *   2. through two loopback distccd daemons, --no-ccache: distcc gives the same bytes, and the
 *      compiles the manifest counts as remote are the jobs the daemons' own logs say they compiled.
 * Each side builds in its own copy of the example (its own warm tree), with --no-reuse so the
 * identity already in the store is compiled again; its outputs are compared from its own build
 * folder, since the store keeps the entry that was there first.
 *
 * KILN_TEST_COMPILE_LOCK (test/support/kiln.ts) makes each of the two builds wait for that lock.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kiln, exampleCopy, removeProject, TEST_HOME, cellManifest } from "../support/kiln.js";
import { haveCommand, needs, needSource } from "../support/needs.js";
import { startDistccd, distccdCompiles, type Daemon } from "../support/daemons.js";
import { exampleKernel, type ExampleKernel } from "../support/store.js";
import { projectId } from "../../src/store/paths.js";
import type { Manifest } from "../../src/core/manifest.js";

const skip = needSource("6.12") || needs(!haveCommand("distccd") && "distcc is not installed (apt-get install distcc)");
const projects: string[] = [];
const daemons: Daemon[] = [];
// distccd drops root to its own user and only then opens its --log-file: the folder must be reachable
const scratch = mkdtempSync(join(tmpdir(), "kiln-distcc-full-"));
chmodSync(scratch, 0o755);
let ek: ExampleKernel;

before(() => {
  if (skip) return;
  ek = exampleKernel("x86_64");
});

after(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
  for (const p of projects) dropProject(p);
  rmSync(scratch, { recursive: true, force: true });
});

function dropProject(p: string): void {
  rmSync(join(TEST_HOME, "work", projectId("microvm", p)), { recursive: true, force: true });
  removeProject(p);
}

const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");

/** The installed files of a kernel, by their store names: from a store entry, or from the build folder they are installed from. */
function outputs(m: Pick<Manifest, "uts_release">, from: { entry: string } | { build: string }): Record<string, string> {
  const r = m.uts_release!;
  const names: [string, string][] = [
    [`boot/vmlinuz-${r}`, ek.arch.imagePath],
    [`boot/System.map-${r}`, "System.map"],
    [`boot/config-${r}`, ".config"],
    ["vmlinux", "vmlinux"],
  ];
  return Object.fromEntries(names.map(([stored, built]) => [stored, sha("entry" in from ? join(from.entry, stored) : join(from.build, built))]));
}

/** Build the example with these flags in a fresh copy; its manifest and its outputs from its own build folder. */
async function buildCopy(tag: string, args: string[], env: Record<string, string> = {}): Promise<{ m: Manifest; bytes: Record<string, string>; dir: string }> {
  const dir = exampleCopy(tag);
  projects.push(dir);
  const r = await kiln(["-C", dir, "build", "--arch", "x86_64", "--no-reuse", ...args], { env });
  assert.equal(r.code, 0, r.stderr.split("\n").slice(-30).join("\n"));
  const m = cellManifest(dir);
  assert.equal(m.status, "ok");
  return { m, bytes: outputs(m, { build: m.build_dir! }), dir };
}

test("the example with --no-ccache: the release and bytes of the store's kernel, which was built with ccache", { skip, timeout: 40 * 60_000 }, async () => {
  assert.ok(ek.built.compile?.ccache, `the store's kernel ${ek.release} was built with ccache (${JSON.stringify(ek.built.compile)})`);
  const ref = outputs(ek.built, { entry: ek.storeEntry });
  const { m, bytes, dir } = await buildCopy("noccache", ["--no-ccache"]);
  assert.equal(m.compile?.ccache, undefined, "this build ran without ccache");
  assert.equal(m.uts_release, ek.release);
  assert.equal(m.identity?.digest, ek.built.identity?.digest);
  assert.deepEqual(bytes, ref);
  dropProject(dir);
});

test("the example through two distccd daemons: the store's release and bytes; the daemons' logs agree with the manifest", { skip, timeout: 40 * 60_000 }, async () => {
  const ref = outputs(ek.built, { entry: ek.storeEntry });
  const logs = join(scratch, "logs");
  daemons.push(await startDistccd(logs, "d1", { jobs: 2 }), await startDistccd(logs, "d2", { jobs: 2 }));
  const specs = daemons.map((d) => `127.0.0.1:${d.port}/2`);
  const { m, bytes, dir } = await buildCopy("distcc", ["--no-ccache"], { KILN_DISTCC_HOSTS: specs.join(" ") });
  assert.equal(m.uts_release, ek.release);
  assert.equal(m.identity?.digest, ek.built.identity?.digest);
  assert.deepEqual(bytes, ref);
  const d = m.compile?.distcc;
  assert.ok(d, "the manifest records distcc");
  assert.equal(d.from, "KILN_DISTCC_HOSTS");
  assert.deepEqual(d.dropped, []);
  assert.deepEqual(d.hosts.map((h) => h.host), specs);
  assert.ok(d.remote > 100, JSON.stringify(d));
  assert.equal(d.fallbacks, 0, JSON.stringify(d));
  assert.equal(d.hosts.reduce((n, h) => n + h.compiles, 0), d.remote);
  // Each daemon compiled the preflight probe (one job) and then exactly the jobs the manifest
  // gives it: the count comes from distcc's client log, checked here against the daemons' own.
  const served = daemons.map((x) => distccdCompiles(x.log));
  assert.deepEqual(served, d.hosts.map((h) => h.compiles + 1), `daemons' logs: ${served.join(", ")} jobs; manifest: ${JSON.stringify(d.hosts)} (+1 probe each)`);
  console.log(`# distcc: ${d.remote} remote (${d.hosts.map((h) => `${h.host} ${h.compiles}`).join(", ")}), ${d.local} local; daemons' logs ${served.join(" + ")} (with one probe each)`);
  dropProject(dir);
});
