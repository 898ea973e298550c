/**
 * The pinned view against kconfig: per `make randconfig` seed, every choice's selected member and
 * writeDefconfig (toolchain checks not run; their symbols and results taken from the .config)
 * against the kernel's own .config and `make savedefconfig`. Runs kconfig only, no compile, one
 * make at a time.
 *   node dist/bench/pinned_view.js [seeds=10] [cases=6.12:x86_64,6.12:arm64,6.12:riscv,6.1:x86_64] [first seed=2000]
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { kernelTree, TEST_CACHE } from "../test/support/trees.js";
import { evaluate, loadKconfig, parseDotConfig, writeDefconfig, type KconfigModel } from "../src/kconfig/index.js";
import { kconfigArch } from "../src/kconfig/run.js";

export interface SeedResult {
  seed: number;
  choices: number;
  choiceMismatches: string[];
  defconfigEqual: boolean;
  defconfigDiff: string[];
}

function make(tree: string, arch: string, out: string, goal: string, extra: Record<string, string> = {}): void {
  const a = kconfigArch(arch);
  const args = ["-s", "-C", tree, `O=${out}`, `ARCH=${a.arch}`, ...(a.crossCompile ? [`CROSS_COMPILE=${a.crossCompile}`] : []), goal];
  execFileSync("make", args, { env: { ...process.env, ...extra }, stdio: ["ignore", "ignore", "pipe"], maxBuffer: 64 << 20 });
}

/** Lines only in a, prefixed "-", and only in b, prefixed "+". */
function lineDiff(a: string, b: string): string[] {
  const A = new Set(a.split("\n").filter(Boolean));
  const B = new Set(b.split("\n").filter(Boolean));
  return [...[...A].filter((l) => !B.has(l)).map((l) => `-${l}`), ...[...B].filter((l) => !A.has(l)).map((l) => `+${l}`)];
}

/** One seed: randconfig + savedefconfig in kconfig, the same from the pinned view. */
export function pinnedSeed(model: KconfigModel, tree: string, arch: string, out: string, seed: number): SeedResult {
  mkdirSync(out, { recursive: true });
  make(tree, arch, out, "randconfig", { KCONFIG_SEED: `0x${seed.toString(16)}` });
  make(tree, arch, out, "savedefconfig");
  const real = parseDotConfig(readFileSync(join(out, ".config"), "utf8"));
  const realDef = readFileSync(join(out, "defconfig"), "utf8");
  const ev = evaluate(model, { user: real, pinned: real });
  const choiceMismatches: string[] = [];
  let choices = 0;
  for (const s of model.all) {
    if (!s.isChoice || !s.nodes[0]) continue;
    for (const node of s.nodes) {
      choices++;
      const kiln = ev.choiceSelection(node)?.name;
      const want = (s.members ?? []).find((m) => real.get(m.name) === "y")?.name;
      if (kiln !== want) choiceMismatches.push(`choice at ${node.loc.file}:${node.loc.line}: kconfig ${want ?? "(off)"}, kiln ${kiln ?? "(off)"}`);
      break;
    }
  }
  const def = writeDefconfig(ev);
  return { seed, choices, choiceMismatches, defconfigEqual: def === realDef, defconfigDiff: lineDiff(realDef, def) };
}

async function main(): Promise<void> {
  const seeds = parseInt(process.argv[2] ?? "10", 10);
  const cases = (process.argv[3] ?? "6.12:x86_64,6.12:arm64,6.12:riscv,6.1:x86_64").split(",").map((c) => c.split(":") as [string, string]);
  const first = parseInt(process.argv[4] ?? "2000", 10);
  const rows: string[] = ["| tree | arch | seeds | choices checked | choice mismatches | savedefconfig equal |", "|---|---|---|---|---|---|"];
  let failed = 0;
  for (const [series, arch] of cases) {
    const tree = kernelTree(series);
    const model = loadKconfig(tree, { arch });
    const out = join(TEST_CACHE, "pinned-view-bench", series, arch);
    let choices = 0;
    let mism = 0;
    let equal = 0;
    for (let i = 0; i < seeds; i++) {
      const r = pinnedSeed(model, tree, arch, out, first + i);
      choices += r.choices;
      mism += r.choiceMismatches.length;
      if (r.defconfigEqual) equal++;
      for (const l of r.choiceMismatches.slice(0, 5)) console.log(`  ${series} ${arch} seed ${r.seed}: ${l}`);
      if (!r.defconfigEqual) console.log(`  ${series} ${arch} seed ${r.seed}: savedefconfig differs: ${r.defconfigDiff.slice(0, 8).join(" ")}`);
    }
    failed += mism + (seeds - equal);
    rows.push(`| ${series} | ${arch} | ${seeds} | ${choices} | ${mism} | ${equal}/${seeds} |`);
    console.log(rows[rows.length - 1]);
  }
  console.log(rows.join("\n"));
  process.exitCode = failed ? 1 : 0;
}

if (process.argv[1]?.endsWith("pinned_view.js")) await main();
