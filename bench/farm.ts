/**
 * Farm overhead: `kiln build --farm` of the example's x86_64 cell (a store hit on the worker,
 * so the worker's build is the reuse, then a publish to a new mirror folder, then the
 * submitter's verified fetch into an empty KILN_HOME) against a local `kiln build` of the same
 * cell from a fresh folder (the same store hit, no farm), interleaved (bench/pair.ts). Each farm
 * run is a new input digest (a comment in kiln.toml) and a new mirror, so every run queues a job
 * and publishes. Also prints the overhead figure, the submitter's wall minus the worker's build
 * time (farm.wall_ms - farm.build_ms in the manifest), min and median (goal < 2 s).
 *
 *   node dist/bench/farm.js [--runs N]
 *
 * Needs redis-server and the example's build in the test store (built once otherwise).
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, resolve } from "node:path";
import { median, pair, sh, timeSync, type PairResult } from "./pair.js";
import { TEST_HOME } from "../test/support/kiln.js";
import { TEST_CACHE } from "../test/support/trees.js";
import { bootKernel } from "../test/support/boot_kernels.js";
import { startRedis } from "../test/support/daemons.js";
import { exampleWithLock, farmProject, keygen, sharedHome, startWorker, storeShare } from "../test/support/farm.js";
import { projectId } from "../src/store/paths.js";

const REPO = resolve(fileURLToPath(import.meta.url), "..", "..", "..");
const KILN = join(REPO, "bin", "kiln");

export async function farmBench(runs = 5): Promise<PairResult[]> {
  const ek = bootKernel("x86_64");
  mkdirSync(join(TEST_CACHE, "scratch"), { recursive: true });
  const scratch = mkdtempSync(join(TEST_CACHE, "scratch", "bench-farm-"));
  const redis = await startRedis(join(scratch, "redis"), { appendonly: true });
  const url = `redis://127.0.0.1:${redis.port}`;
  const keys = await keygen(join(scratch, "keys"));
  const base = exampleWithLock(ek.project, join(scratch, "example"));
  const worker = await startWorker("bench", sharedHome(join(scratch, "home-worker"), storeShare()), url, keys.key);
  const overheads: number[] = [];
  const locals: string[] = [];
  let n = 0;
  const farmRun = () => {
    n++;
    const mirror = join(scratch, `mirror-${n}`);
    mkdirSync(mirror);
    const dir = farmProject(base, join(scratch, `proj-${n}`), { mirror, pub: keys.pub });
    writeFileSync(join(dir, "kiln.toml"), `# bench run ${n}\n${readFileSync(join(dir, "kiln.toml"), "utf8")}`);
    let out = "";
    const s = timeSync(() => {
      out = sh([process.execPath, KILN, "-C", dir, "--json", "build", "--arch", "x86_64", "--farm", url], { env: { KILN_HOME: join(scratch, `sub-${n}`), NO_COLOR: "1" } });
    });
    const m = (JSON.parse(out) as { uts_release: string; farm: { wall_ms: number; build_ms: number } }[])[0]!;
    if (m.uts_release !== ek.release) throw new Error(`expected ${ek.release} from the farm, got ${m.uts_release}`);
    overheads.push((m.farm.wall_ms - m.farm.build_ms) / 1000);
    return s;
  };
  const localRun = () => {
    const d = mkdtempSync(join(scratch, "local-"));
    locals.push(d);
    cpSync(base, d, { recursive: true });
    return timeSync(() => {
      const out = sh([process.execPath, KILN, "-C", d, "build", "--arch", "x86_64"], { env: { KILN_HOME: TEST_HOME, NO_COLOR: "1" } });
      if (!out.includes(`reused     ${ek.release}`)) throw new Error(`expected a reuse of ${ek.release}, got:\n${out}`);
    });
  };
  try {
    const r = await pair(`farm: kiln build --farm (worker store hit, publish, verified fetch) vs local store hit (${ek.release})`, ["farm", farmRun], ["local", localRun], { runs, goal: "overhead (wall - worker build) < 2 s" });
    console.log(`  farm overhead (submitter wall - worker build): min ${Math.min(...overheads).toFixed(2)} s  median ${median(overheads).toFixed(2)} s  [${overheads.map((x) => x.toFixed(2)).join(", ")}]`);
    return [r];
  } finally {
    await worker.stop();
    await redis.stop();
    for (const d of locals) rmSync(join(TEST_HOME, "work", projectId("microvm", d)), { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const i = process.argv.indexOf("--runs");
  void farmBench(i > 0 ? Number(process.argv[i + 1]) : 5);
}
