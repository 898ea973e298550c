/**
 * A scaling model for distcc builds (issue 11): these machines have 2 cores, so 1..16 hosts
 * cannot be measured; the model predicts them from a real cold build of the example.
 *
 * What the data is: kiln's build.log lists every step in order but carries no times, and the
 * ccache stats log counts hits, not seconds. What carries time is the build folder itself: every
 * object's mtime is when its compile finished. With make -j2 on 2 cores an object's compile time
 * is estimated as the gap to the completion two objects earlier (the slot it took). From those:
 *   prologue  first generated header -> first kernel object (kconfig, prepare, host tools): local
 *   objects   the per-object compile times, in the order make finished them
 *   tail      last kernel object -> bzImage (vmlinux.o, modpost, kallsyms links, objcopy): serial
 * The model (assumptions, printed with the table): every host has 2 slots and this machine's
 * speed; distcc preprocesses here (no pump mode), a share `p` of each compile (default 0.2); each
 * remote compile pays the overhead factor bench/distcc.ts measured (default 1.05); make -j is the
 * remote slots plus 2; objects are list-scheduled in make's order: a local core preprocesses, then
 * the first free remote slot compiles. Dependencies between objects are ignored (kbuild compiles
 * a directory's objects independently; archives and links are in the tail).
 *
 *   node dist/bench/distcc_model.js [build-folder] [--p 0.2] [--overhead 1.05]
 */
import { readdirSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";

const argv = process.argv.slice(2);
const opt = (k: string, d: number) => {
  const i = argv.indexOf(k);
  return i >= 0 ? Number(argv[i + 1]) : d;
};
const p = opt("--p", 0.2);
const overhead = opt("--overhead", 1.05);
const build = argv.find((a, i) => !a.startsWith("--") && !(i > 0 && argv[i - 1]!.startsWith("--"))) ?? "/var/tmp/kiln-test-cache/kiln-home/work/microvm-d0d93ba1/base-x86_64/build";

function objects(dir: string, out: { f: string; t: number }[] = []): { f: string; t: number }[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const f = join(dir, e.name);
    if (e.isDirectory()) {
      if (f === join(build, "tools") || f === join(build, "scripts")) continue; // host tools: in the prologue
      objects(f, out);
    } else if (e.name.endsWith(".o") && !e.name.startsWith(".tmp_") && e.name !== "vmlinux.o") out.push({ f, t: statSync(f).mtimeMs / 1000 });
  }
  return out;
}

const mt = (rel: string) => (existsSync(join(build, rel)) ? statSync(join(build, rel)).mtimeMs / 1000 : NaN);
// Objects finished after vmlinux.o (the image's setup code, kallsyms passes) belong to the serial tail.
const linkAt = mt("vmlinux.o");
const all = objects(build).sort((a, b) => a.t - b.t);
const objs = Number.isNaN(linkAt) ? all : all.filter((o) => o.t < linkAt);
if (objs.length < 10) throw new Error(`${build}: only ${objs.length} objects; give the build folder of a finished kernel build`);
const start = mt("include/generated/autoconf.h");
const image = ["arch/x86/boot/bzImage", "arch/arm64/boot/Image", "arch/riscv/boot/Image"].map(mt).find((x) => !Number.isNaN(x)) ?? mt("vmlinux");
// The cold build is the densest run of completions; later incremental rebuilds leave late stragglers.
const span = objs[objs.length - 1]!.t - objs[0]!.t;
const d = objs.map((o, i) => Math.max(0.005, o.t - (objs[i - 2]?.t ?? objs[0]!.t - 0.2)));
const prologue = Math.max(0, objs[0]!.t - start);
const tail = Math.max(0, image - objs[objs.length - 1]!.t);
const work = d.reduce((a, b) => a + b, 0);

/** The parallel phase on `hosts` hosts of 2 slots each (0: plain make -j2 here). */
function phase(hosts: number): number {
  const local = [0, 0];
  if (hosts === 0) {
    for (const x of d) {
      const i = local[0]! <= local[1]! ? 0 : 1;
      local[i]! += x;
    }
    return Math.max(...local);
  }
  const remote = new Array<number>(hosts * 2).fill(0);
  let end = 0;
  for (const x of d) {
    const i = local[0]! <= local[1]! ? 0 : 1;
    local[i]! += p * x; // preprocess here
    let r = 0;
    for (let k = 1; k < remote.length; k++) if (remote[k]! < remote[r]!) r = k;
    remote[r] = Math.max(remote[r]!, local[i]!) + (1 - p) * x * overhead;
    end = Math.max(end, remote[r]!);
  }
  return Math.max(end, ...local);
}

const fmt = (s: number) => `${s.toFixed(0)} s`;
console.log(`# build folder ${build}`);
console.log(`# ${objs.length} kernel objects, completions spread over ${fmt(span)}; estimated compile work ${fmt(work)} (2 slots)`);
console.log(`# prologue (kconfig, prepare, host tools) ${fmt(prologue)}, serial tail (vmlinux links, image) ${fmt(tail)}`);
console.log(`# longest object ${Math.max(...d).toFixed(1)} s; assumptions: 2 slots per host, preprocess share p=${p}, remote overhead x${overhead}, no pump mode`);
const base = prologue + phase(0) + tail;
console.log("\n| hosts | parallel phase | predicted wall | speed-up |\n|---:|---:|---:|---:|");
console.log(`| 0 (make -j2 here) | ${fmt(phase(0))} | ${fmt(base)} | 1.00 |`);
for (const h of [1, 2, 4, 8, 16]) {
  const w = prologue + phase(h) + tail;
  console.log(`| ${h} | ${fmt(phase(h))} | ${fmt(w)} | ${(base / w).toFixed(2)} |`);
}
console.log(`\n# the limit: preprocessing here (${fmt((p * work) / 2)} on 2 cores) plus prologue and tail = ${fmt(prologue + tail + (p * work) / 2)}`);
