/**
 * Boot benchmark (goal 2): `kiln boot --arch A` through the CLI (a new process: reuse, the
 * initramfs, the accelerator decision, QEMU, the uname check) against the raw QEMU command with
 * the same kernel and initramfs, from spawn to the init marker. Interleaved by bench/pair.ts.
 *
 *   node dist/bench/boot.js [--runs N] [arch...]      (default: 3 runs; x86_64)
 *
 * Goal: kiln <= raw + 0.5 s. Kernels come from test/support/boot_kernels.ts (the test store).
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { pair, sh, timeSync, timeAsync, median, type PairResult } from "./pair.js";
import { TEST_HOME, KILN_BIN } from "../test/support/kiln.js";
import { ARCHES } from "../src/tables/arches.js";
import { kernelCmdline, qemuArgv } from "../src/boot/qemu.js";
import { runSmoke, writeSmokeInitramfs } from "../src/boot/smoke.js";
import { BOOT_TEST_CACHE, bootKernel } from "../test/support/boot_kernels.js";
import { TEST_CACHE } from "../test/support/trees.js";


/** Raw QEMU: spawn, wait for the marker on stdout, then stop it. Returns seconds to the marker. */
function rawBoot(argv: string[], timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "ignore"] });
    let buf = "";
    let at: number | undefined;
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      buf += d;
      if (at === undefined && /KILN-MARKER v1 [^\n]*\n/.test(buf)) {
        at = (performance.now() - t0) / 1000;
        child.kill("SIGKILL");
      }
      if (buf.length > 1 << 20) buf = buf.slice(-4096);
    });
    child.on("error", reject);
    child.on("close", () => {
      clearTimeout(timer);
      if (at === undefined) reject(new Error(`raw qemu did not print the marker: ${argv.join(" ")}`));
      else resolve(at);
    });
  });
}

export async function bootBench(runs = 3, arches: string[] = ["x86_64"]): Promise<PairResult[]> {
  const work = join(TEST_CACHE, "boot-bench");
  mkdirSync(work, { recursive: true });
  const out: PairResult[] = [];
  for (const name of arches) {
    const arch = ARCHES[name]!;
    const k = bootKernel(name);
    const proj = join(TEST_CACHE, "projects", "boot-default"); // bootKernel's folder for the default variant
    const initramfs = join(work, `${name}.cpio`);
    await writeSmokeInitramfs({ tree: k.tree, arch, cacheDir: BOOT_TEST_CACHE, out: initramfs });
    const argv = qemuArgv({ arch, accel: "tcg", kernel: k.image, initrd: initramfs, cmdline: kernelCmdline(arch, { mode: "smoke" }), memoryMiB: 512, cpus: 1, console: "pipe" });
    const kilnSide = () => timeSync(() => sh([process.execPath, KILN_BIN, "-C", proj, "boot", "--arch", name], { env: { KILN_HOME: TEST_HOME, NO_COLOR: "1" } }));
    const rawSide = () => timeAsync(() => rawBoot(argv, arch.tcgTimeoutSec * 1000));
    const r = await pair(`kiln boot --arch ${name} (CLI, whole run) vs raw qemu to the init marker (TCG)`, ["kiln boot", kilnSide], ["raw qemu", rawSide], { runs, warmup: true, goal: "kiln <= raw + 0.5 s" });
    console.log(`  kiln - raw: median ${(median(r.a.runs) - median(r.b.runs)).toFixed(2)} s`);
    out.push(r);
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  let runs = 3;
  const arches: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--runs") runs = Number(args[++i]);
    else if (!args[i]!.startsWith("--")) arches.push(args[i]!);
  }
  bootBench(runs, arches.length ? arches : ["x86_64"]).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
