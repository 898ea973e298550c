/**
 * The build farm with real compiles (npm run test:full; run it under the shared compile lock):
 * two workers whose KILN_HOMEs share the test home's source and compiler cache but not its
 * store, and cells with a label of this run (a new identity, so a worker compiles).
 * - two submitters at once of one cell -> one compile, both get the result;
 * - the worker that took a job is killed with SIGKILL mid-compile -> the other worker takes the
 *   job over (BullMQ stalled-job recovery) and the submitter gets its result; the killed
 *   worker's kiln and make are gone.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import type { ExampleKernel } from "../support/store.js";
import { haveCommand, needs } from "../support/needs.js";
import type { Daemon } from "../support/daemons.js";
import { kiln, kilnSpawn, RUN_ID } from "../support/kiln.js";
import { farmManifest, farmMissing, farmProject, farmRig, sharedHome, startWorker, storeShare, type FarmWorker } from "../support/farm.js";

const missing = farmMissing();

let ek: ExampleKernel;
let scratch: string;
let redis: Daemon;
let url: string;
let keys: { key: string; pub: string };
let base: string;
const workers: FarmWorker[] = [];

/** The example at a label of its own: a new identity, compiled by whichever worker takes it. */
function labelled(tag: string): string {
  const dir = farmProject(base, join(scratch, `proj-${tag}`), { mirror: join(scratch, "mirror"), pub: keys.pub });
  const toml = join(dir, "kiln.toml");
  const text = readFileSync(toml, "utf8");
  assert.ok(text.includes('label = "microvm"'));
  writeFileSync(toml, text.replace('label = "microvm"', `label = "farm${tag}${RUN_ID}"`));
  return dir;
}

const alive = (pattern: string) => spawnSync("pgrep", ["-af", pattern], { encoding: "utf8" }).stdout.trim();

before(async () => {
  if (missing) return;
  ({ ek, scratch, redis, url, keys, base } = await farmRig("farm-full"));
  const share = storeShare().filter((e) => e !== "store");
  for (const name of ["wa", "wb"]) workers.push(await startWorker(name, sharedHome(join(scratch, `home-${name}`), share), url, keys.key));
});

after(async () => {
  for (const w of workers) await w.stop();
  await redis?.stop();
  if (scratch) {
    const left = alive(scratch);
    rmSync(scratch, { recursive: true, force: true });
    assert.equal(left, "", `processes left running: ${left}`);
  }
});

test("two submitters of a new cell at once: one compile on one worker, both get the result", { skip: missing, timeout: 20 * 60_000 }, async () => {
  const dir = labelled("two");
  const [a, b] = await Promise.all(["sub-a", "sub-b"].map((h) => kiln(["-C", dir, "--json", "build", "--arch", "x86_64", "--farm", url], { home: join(scratch, h) })));
  assert.equal(a!.code, 0, a!.stderr);
  assert.equal(b!.code, 0, b!.stderr);
  const ma = farmManifest(a!.stdout);
  const mb = farmManifest(b!.stdout);
  assert.equal(ma.uts_release, mb.uts_release);
  assert.notEqual(ma.uts_release, ek.release);
  assert.equal(ma.farm!.job, mb.farm!.job);
  assert.equal(ma.farm!.build, "compiled");
  assert.equal(mb.farm!.build, "compiled");
  const compiled = workers.filter((w) => new RegExp(`done +base/x86_64 ${ma.uts_release} \\(compiled\\)`).test(w.out()));
  assert.equal(compiled.length, 1, "one worker compiled it, once");
  assert.equal((compiled[0]!.out().match(/\(compiled\)/g) ?? []).length, 1);
  console.log(`farm overhead: wall ${ma.farm!.wall_ms} ms - worker build ${ma.farm!.build_ms} ms = ${ma.farm!.wall_ms - ma.farm!.build_ms} ms`);
});

test("the worker that took a job is killed with SIGKILL mid-compile: the other worker finishes it", { skip: missing, timeout: 25 * 60_000 }, async () => {
  const dir = labelled("kill");
  const child = kilnSpawn(["-C", dir, "--json", "build", "--arch", "x86_64", "--farm", url], { home: join(scratch, "sub-kill") });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  const done = new Promise<number>((r) => child.once("exit", (c) => r(c ?? 1)));
  const until = Date.now() + 15 * 60_000;
  let first: string | undefined;
  while (!first) {
    first = /\[(w[ab])\] compile \d+%/.exec(err)?.[1];
    assert.ok(Date.now() < until, `no compile progress reached the submitter: ${err}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const victim = workers.find((w) => w.name === first)!;
  victim.proc.kill("SIGKILL");
  const code = await done;
  assert.equal(code, 0, err);
  const m = farmManifest(out);
  const survivor = workers.find((w) => w !== victim)!;
  assert.equal(m.farm!.worker, survivor.name, "the other worker built it");
  assert.equal(m.farm!.build, "compiled");
  assert.match(err, new RegExp(`\\[${survivor.name}\\] taken by ${survivor.name}`));
  // the killed worker left nothing running in its home (its kiln died with it, its make with the tree lock's guardian)
  const deadline = Date.now() + 15_000;
  while (alive(victim.home) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  assert.equal(alive(victim.home), "");
});
