/**
 * Export a cell's final config as a minimal defconfig or fragment: `make savedefconfig` on a
 * copy of the final .config in a scratch out-of-tree folder, then a proof that it is a fixed
 * point: configuring from it again (`make KCONFIG_ALLCONFIG=<defconfig> alldefconfig` in a second
 * scratch folder) must give the original .config byte for byte, header comments aside.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { GateFailure } from "../errors.js";
import type { Project } from "../project/load.js";
import { paths as kilnPaths } from "../store/paths.js";
import { acquire } from "../effects/lock.js";
import { writeFileAtomic } from "../effects/fsx.js";
import { parseFragment } from "../core/fragment.js";
import { cellMakeEnv, configureCells, kconfigMake, selectCells, type CellOptions } from "../pipeline/cells.js";

// ---------------------------------------------------------------- pure

/** The .config without its leading header comment block (the "Automatically generated" lines). */
export function configBody(text: string): string {
  const lines = text.split("\n");
  let i = 0;
  while (i < lines.length && (lines[i]!.startsWith("#") && !/^# CONFIG_[A-Za-z0-9_]+ is not set$/.test(lines[i]!))) i++;
  return lines.slice(i).join("\n");
}

/** First differing lines of two configs' bodies, for an error message. */
export function firstDifferences(a: string, b: string, max = 10): string[] {
  const la = configBody(a).split("\n");
  const lb = configBody(b).split("\n");
  const sa = new Set(la);
  const sb = new Set(lb);
  const out: string[] = [];
  for (const l of la) if (!sb.has(l) && out.length < max) out.push(`- ${l}`);
  for (const l of lb) if (!sa.has(l) && out.length < max) out.push(`+ ${l}`);
  if (!out.length && la.join("\n") !== lb.join("\n")) out.push("(same lines, different order)");
  return out;
}

/** Symbols kiln sets itself on every configure: not part of an exported fragment. */
export const KILN_OWNED = ["LOCALVERSION", "LOCALVERSION_AUTO"];

/** A fragment from a defconfig: kiln's own identity lines dropped, a header naming its origin. */
export function fragmentFromDefconfig(defconfig: string, header: readonly string[]): string {
  const keep = defconfig.split("\n").filter((l) => l !== "" && !KILN_OWNED.some((s) => l === `# CONFIG_${s} is not set` || l.startsWith(`CONFIG_${s}=`)));
  return [...header.map((h) => `# ${h}`.trimEnd()), ...keep].join("\n") + "\n";
}

// ---------------------------------------------------------------- effects

export interface ExportOptions extends CellOptions {
  target?: string;
  arch?: string;
  /**
   * defconfig: what savedefconfig writes (feed it to `make KCONFIG_ALLCONFIG=... alldefconfig`).
   * fragment: the same lines with a header and without kiln's identity lines, for a kiln layer
   * with method = "fragments", base = "alldefconfig".
   */
  format?: "defconfig" | "fragment";
  /** Write the result here (atomically); otherwise only returned. */
  out?: string;
}

export interface ExportResult {
  target: string;
  arch: string;
  format: "defconfig" | "fragment";
  text: string;
  /** Setting lines in the result. */
  symbols: number;
  /** Setting lines in the final .config, for scale. */
  configSymbols: number;
  /** Always true on return: a failed round trip throws. */
  fixedPoint: true;
  release?: string;
  file?: string;
}

export async function exportConfig(project: Project, o: ExportOptions): Promise<ExportResult> {
  const p = o.paths ?? kilnPaths();
  const format = o.format ?? "defconfig";
  const [cell] = selectCells(project, o.target ? [o.target] : [Object.keys(project.targets)[0]!], o.arch ? [o.arch] : []);
  const { cells } = await configureCells(project, [cell!], { ui: o.ui, paths: p });
  const c = cells[0]!;
  const original = c.configText;
  // Scratch folders beside the cell's tree, under its lock: the cell's own build folder and the
  // shared source tree are only read.
  const lock = await acquire(c.warm.lock, { onWait: () => o.ui.step("wait", `another kiln is using the ${c.target}/${c.arch} tree; waiting`) });
  let defconfig: string;
  let again: string;
  try {
    const save = join(c.warm.root, "config-export", "save");
    const check = join(c.warm.root, "config-export", "check");
    for (const d of [save, check]) mkdirSync(d, { recursive: true });
    writeFileSync(join(save, ".config"), original);
    await kconfigMake(cellMakeEnv(project, c, c.warm.src, save, c.source.timestamp), ["savedefconfig"]);
    defconfig = readFileSync(join(save, "defconfig"), "utf8");
    const input = join(check, "input.defconfig");
    writeFileSync(input, defconfig);
    rmSync(join(check, ".config"), { force: true });
    await kconfigMake(cellMakeEnv(project, c, c.warm.src, check, c.source.timestamp), ["alldefconfig"], [`KCONFIG_ALLCONFIG=${input}`]);
    again = readFileSync(join(check, ".config"), "utf8");
  } finally {
    await lock.release();
  }
  if (configBody(again) !== configBody(original)) {
    throw new GateFailure(
      `the savedefconfig of ${c.arch}/${c.target} is not a fixed point: configuring from it gives another .config\n  ${firstDifferences(original, again).join("\n  ")}`,
      { file: join(c.manifest.build_dir ?? c.warm.build, ".config") },
      "a symbol whose value depends on the toolchain or on select/imply ordering; compare the two configs with `kiln config diff`",
    );
  }
  const text =
    format === "defconfig"
      ? defconfig
      : fragmentFromDefconfig(defconfig, [
          `kiln config export: ${project.decl.name} ${c.target}/${c.arch}${c.manifest.uts_release ? ` (${c.manifest.uts_release})` : ""}`,
          `Minimal: every other symbol takes its default. Use it as a layer with method = "fragments", base = "alldefconfig".`,
        ]);
  const issues = parseFragment(text, o.out ?? "export").issues;
  if (issues.length) throw new GateFailure(`the exported ${format} does not read back as a fragment:\n  ${issues.map((i) => `${i.origin.file}:${i.origin.line}: ${i.message}`).join("\n  ")}`);
  if (o.out) writeFileAtomic(o.out, text);
  const count = (t: string) => t.split("\n").filter((l) => /^CONFIG_[A-Za-z0-9_]+=|^# CONFIG_[A-Za-z0-9_]+ is not set$/.test(l)).length;
  return {
    target: c.target,
    arch: c.arch,
    format,
    text,
    symbols: count(text),
    configSymbols: count(original),
    fixedPoint: true,
    ...(c.manifest.uts_release ? { release: c.manifest.uts_release } : {}),
    ...(o.out ? { file: o.out } : {}),
  };
}
