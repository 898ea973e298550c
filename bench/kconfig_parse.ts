/**
 * Benchmark: parse and evaluate the Kconfig of one arch of a real tree (default: x86_64 of
 * Debian's linux-source-6.12) against its defconfig, as kiln does for an audit.
 *
 *   node dist/bench/kconfig_parse.js [series] [arch] [runs]
 *
 * Prints wall time per phase (first run = cold process, then the best of the rest), heap and
 * peak RSS. Toolchain checks are not run (their symbols come from the reference .config when
 * present); pass KILN_BENCH_SHELL=1 to run them for real.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { resourceUsage } from "node:process";
import { kernelTree } from "../test/support/trees.js";
import { evaluate, loadKconfig, parseDotConfig } from "../src/kconfig/index.js";

const series = process.argv[2] ?? "6.12";
const arch = process.argv[3] ?? "x86_64";
const runs = Number(process.argv[4] ?? "5");
const defconfigs: Record<string, string> = {
  x86_64: "arch/x86/configs/x86_64_defconfig",
  arm64: "arch/arm64/configs/defconfig",
  riscv: "arch/riscv/configs/defconfig",
};

const tree = kernelTree(series);
const user = parseDotConfig(readFileSync(join(tree, defconfigs[arch] ?? ""), "utf8"));
const runShell = process.env.KILN_BENCH_SHELL === "1";

interface Run {
  parse: number;
  evaluate: number;
  cpuParse: number;
  cpuEvaluate: number;
  symbols: number;
  files: number;
  written: number;
}
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
const times: Run[] = [];
for (let i = 0; i < runs; i++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const model = loadKconfig(tree, { arch, runShell });
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  const ev = evaluate(model, { user });
  const written = ev.config().size;
  const t2 = performance.now();
  const c2 = process.cpuUsage();
  times.push({
    parse: t1 - t0,
    evaluate: t2 - t1,
    cpuParse: cpuMs(c1) - cpuMs(c0),
    cpuEvaluate: cpuMs(c2) - cpuMs(c1),
    symbols: model.symbols.size,
    files: model.files.length,
    written,
  });
}
const mem = process.memoryUsage();
const first = times[0];
const rest = times.slice(1);
const best = rest.length ? rest.reduce((a, b) => (a.parse + a.evaluate <= b.parse + b.evaluate ? a : b)) : first;
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
if (first && best) {
  console.log(`kconfig ${series} ${arch}: ${first.files} files, ${first.symbols} symbols, ${first.written} written to .config`);
  const line = (r: Run) =>
    `parse ${r.parse.toFixed(0)} ms + evaluate ${r.evaluate.toFixed(0)} ms = ${(r.parse + r.evaluate).toFixed(0)} ms wall ` +
    `(cpu ${r.cpuParse.toFixed(0)} + ${r.cpuEvaluate.toFixed(0)} = ${(r.cpuParse + r.cpuEvaluate).toFixed(0)} ms, GC threads included)`;
  console.log(`cold run: ${line(first)}`);
  console.log(`warm best of ${rest.length}: ${line(best)}`);
}
console.log(`heap used ${mb(mem.heapUsed)}, rss ${mb(mem.rss)}, peak rss ${mb(resourceUsage().maxRSS * 1024)}`);
