/**
 * distcc overhead on one machine (issue 11, goal <= 1.05): the same kernel objects compiled with
 * plain `make -j2` (A) and through two loopback distccd daemons of one slot each (B: every
 * compile is preprocessed here, sent over TCP, compiled by a daemon, sent back), interleaved by
 * bench/pair.ts. Both sides use kiln's own make environment (test/support/objects.ts: buildFlags
 * on a scratch O= folder made from the test store's x86_64 .config) and no ccache. B/A is the
 * overhead distcc adds per object when the hosts are no faster than this machine.
 *
 *   node dist/bench/distcc.js [--quick] [folders...]     default folders: init/ kernel/ (quick: init/)
 */
import { mkdtempSync, chmodSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exampleKernel } from "../test/support/store.js";
import { objectsDir } from "../test/support/objects.js";
import { startDistccd } from "../test/support/daemons.js";
import { makeArgv } from "../src/pipeline/configure.js";
import { distccEnv } from "../src/pipeline/build_flags.js";
import { pair, quick, sh, timeSync, table } from "./pair.js";

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const folders = args.length ? args : quick ? ["init/"] : ["init/", "kernel/"];

const ek = exampleKernel("x86_64");
const objs = await objectsDir(ek);
const scratch = mkdtempSync(join(tmpdir(), "kiln-bench-distcc-"));
chmodSync(scratch, 0o755);
const daemons = [await startDistccd(join(scratch, "logs"), "d1", { jobs: 1 }), await startDistccd(join(scratch, "logs"), "d2", { jobs: 1 })];
try {
  const hosts = daemons.map((d) => `127.0.0.1:${d.port}/1`).join(" ");
  const plain = objs.make();
  const viaDistcc = objs.make({ distcc: true, env: distccEnv({ hosts, dir: join(scratch, "distcc"), ccache: false }) });
  sh(["mkdir", "-p", join(scratch, "distcc")]);
  const side = (m: typeof plain) => () => {
    objs.clean(folders.map((f) => f.replace(/\/$/, "")));
    return timeSync(() => sh(makeArgv(m, folders, ["-j2", "-s"]), { env: m.env }));
  };
  const n = Object.keys((side(plain)(), objs.digests(folders.map((f) => f.replace(/\/$/, ""))))).length;
  console.log(`# ${n} objects in ${folders.join(" ")}; distcc hosts: ${hosts}`);
  const r = await pair(`compile ${folders.join(" ")} (${n} objects): distcc 2 loopback daemons vs make -j2`, ["distcc", side(viaDistcc)], ["plain -j2", side(plain)], { runs: quick ? 3 : 5, warmup: true, goal: "A/B <= 1.05" });
  console.log("\n" + table([r]));
} finally {
  await Promise.all(daemons.map((d) => d.stop()));
  rmSync(scratch, { recursive: true, force: true });
}
