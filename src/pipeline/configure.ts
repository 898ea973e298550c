/**
 * Step 5, configure: produce the build's .config with one of three methods, every time (never
 * "a .config exists, so skip": a changed input must be seen), then report every requested value
 * that did not survive olddefconfig.
 *   preset:    make KCONFIG_ALLCONFIG=<preset> alldefconfig (preset inside the presets folder)
 *   make:      in-tree goals in order, e.g. defconfig kvm_guest.config
 *   fragments: scripts/kconfig/merge_config.sh [-n] over allnoconfig/alldefconfig, layers in order
 * Layers are folders of fragments; with preset/make they are merged on top of the method's result.
 */
import { confine } from "../project/confine.js";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ProjectError, BuildFailure, GateFailure } from "../errors.js";
import { parseFragment, mergeRequests, parseDotConfig, droppedValues, type Request, type Redefinition, type Dropped, type FragmentIssue } from "../core/fragment.js";
import { run, type RunResult } from "../effects/proc.js";
import { locateKey } from "../project/toml_locate.js";
import { projectPath, type Project } from "../project/load.js";
import type { TargetDecl } from "../project/schema.js";
import type { ArchSpec } from "../tables/arches.js";
import { IDENTITY_FRAGMENT, judgeRequestsInTree } from "./audit.js";

export interface FragmentFile {
  layer: string;
  file: string; // absolute
  rel: string; // relative to the project
  /** The layer is declared an override: its redefinitions are intended. */
  override: boolean;
}

export interface ConfigureResult {
  method: TargetDecl["config"]["method"];
  /** fragments method: the all*config merge_config.sh runs. */
  base?: TargetDecl["config"]["base"];
  fragments: FragmentFile[];
  preset?: string;
  goals?: string[];
  requested: number;
  /** Every redefinition; `override` tells whether the later layer is declared an override. */
  redefinitions: (Redefinition & { override: boolean })[];
  dropped: Dropped[];
  issues: FragmentIssue[];
  /** .config text with LOCALVERSION_AUTO off, before the identity is baked. */
  configText: string;
}

export interface MakeEnv {
  src: string;
  build: string;
  makeVars: string[];
  env: Record<string, string>;
}

export function makeArgv(m: MakeEnv, goals: string[], extra: string[] = []): string[] {
  return ["make", "-C", m.src, `O=${m.build}`, ...m.makeVars, ...extra, ...goals];
}

async function make(m: MakeEnv, goals: string[], extra: string[] = []): Promise<RunResult> {
  const r = await run(makeArgv(m, goals, extra), { env: m.env, allowFail: true });
  if (r.exitCode !== 0) {
    const tail = r.all.trim().split("\n").slice(-20).join("\n");
    throw new BuildFailure(`configuration failed: make ${goals.join(" ")} exited with ${r.exitCode}\n${tail}`);
  }
  return r;
}

const FRAGMENT_NAME = /(\.config|\.cfg|\.fragment)$|^CONFIG_[A-Za-z0-9_]+$/;

/** The fragment files of the target's layers, in merge order: layers as declared, files by name. */
export function layerFiles(project: Project, tname: string, target: TargetDecl, arch: string): FragmentFile[] {
  const out: FragmentFile[] = [];
  target.config.layers.forEach((layer0, i) => {
    const layer = typeof layer0 === "string" ? { path: layer0, override: false, optional: false } : layer0;
    const rel = layer.path.replaceAll("{arch}", arch);
    const dir = projectPath(project, rel, undefined, "config layer", locateKey(project.text, ["target", tname, "config", "layers", i]));
    if (layer.optional && !existsSync(dir)) return;
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new ProjectError(
        `config layer "${rel}" of target "${tname}" is not a folder`,
        { file: project.file, line: locateKey(project.text, ["target", tname, "config", "layers", i]) },
        `create ${rel}/ with fragment files (*.config), or remove the layer`,
      );
    }
    for (const f of readdirSync(dir).sort()) {
      const abs = join(dir, f);
      if (FRAGMENT_NAME.test(f) && statSync(abs).isFile() && confine(project.dir, abs, project.decl.outside_paths, { what: "fragment", shown: join(rel, f), file: project.file, line: locateKey(project.text, ["target", tname, "config", "layers", i]) })) out.push({ layer: rel, file: abs, rel: relative(project.dir, abs), override: layer.override });
    }
  });
  return out;
}

export async function configure(project: Project, tname: string, target: TargetDecl, arch: ArchSpec, m: MakeEnv): Promise<ConfigureResult> {
  const cfg = target.config;
  const fragments = layerFiles(project, tname, target, arch.name);
  const lists: Request[][] = [];
  const issues: FragmentIssue[] = [];
  let presetAbs: string | undefined;
  if (cfg.method === "preset") {
    presetAbs = projectPath(project, join(project.decl.presets_dir, cfg.preset!), project.decl.presets_dir, "preset");
    if (!existsSync(presetAbs)) throw new ProjectError(`preset ${cfg.preset} does not exist in ${project.decl.presets_dir}/`, { file: project.file, line: locateKey(project.text, ["target", tname, "config", "preset"]) });
    const p = parseFragment(readFileSync(presetAbs, "utf8"), relative(project.dir, presetAbs), "preset");
    lists.push(p.requests);
    issues.push(...p.issues);
  }
  for (const f of fragments) {
    const p = parseFragment(readFileSync(f.file, "utf8"), f.rel, f.layer);
    lists.push(p.requests);
    issues.push(...p.issues);
  }
  // Malformed lines are audit findings (fatal by default), not a crash before anything ran.
  const { merged, redefinitions } = mergeRequests(lists);
  // Values kconfig would reject for the symbol's type are findings before any make runs.
  issues.push(...judgeRequestsInTree(m.src, arch.name, [...merged.values()]));
  const overrideFiles = new Set(fragments.filter((f) => f.override).map((f) => f.rel));
  const unexpected = redefinitions.filter((r) => !overrideFiles.has(r.to.origin.file));
  if (cfg.strict && unexpected.length) {
    throw new GateFailure(
      `strict config: ${unexpected.length} redefinition(s) outside an override layer:\n  ${unexpected.map((r) => `${r.to.origin.file}:${r.to.origin.line}: CONFIG_${r.symbol}=${r.to.value} redefines ${r.from.value} from ${r.from.origin.file}:${r.from.origin.line}`).join("\n  ")}`,
      {},
      "declare the later layer as { path = \"...\", override = true }, or remove one of the two lines",
    );
  }
  const dotconfig = join(m.build, ".config");

  if (cfg.method === "preset") {
    await make(m, ["alldefconfig"], [`KCONFIG_ALLCONFIG=${presetAbs}`]);
  } else if (cfg.method === "make") {
    for (const g of cfg.goals!) await make(m, [g]);
  }
  // kiln owns the release string: no setlocalversion suffix, no leftover LOCALVERSION. Given as
  // the last fragment, so the fragments method needs no extra olddefconfig pass.
  const own = join(m.build, ".kiln-identity.config");
  writeFileSync(own, IDENTITY_FRAGMENT);
  const env = { ...m.env, ...Object.fromEntries(m.makeVars.filter((v) => /^(ARCH|CROSS_COMPILE|LLVM)=/.test(v)).map((v) => v.split(/=(.*)/s).slice(0, 2) as [string, string])) };
  const mergeConfig = async (args: string[]) => {
    const r = await run([join(m.src, "scripts/kconfig/merge_config.sh"), ...args], { cwd: m.src, env, allowFail: true });
    if (r.exitCode !== 0) throw new BuildFailure(`configuration failed: merge_config.sh exited with ${r.exitCode}\n${r.all.trim().split("\n").slice(-20).join("\n")}`);
  };
  if (cfg.method === "fragments") {
    await mergeConfig([...(cfg.base === "allnoconfig" ? ["-n"] : []), "-O", m.build, ...fragments.map((f) => f.file), own]);
  } else {
    // on top of the method's result: merge only, then olddefconfig
    await mergeConfig(["-m", "-O", m.build, dotconfig, ...fragments.map((f) => f.file), own]);
    await make(m, ["olddefconfig"]);
  }
  const configText = readFileSync(dotconfig, "utf8");
  const dropped = droppedValues(merged, parseDotConfig(configText)).filter((d) => d.symbol !== "LOCALVERSION" && d.symbol !== "LOCALVERSION_AUTO");
  return {
    method: cfg.method,
    ...(cfg.method === "fragments" ? { base: cfg.base } : {}),
    fragments,
    ...(presetAbs ? { preset: relative(project.dir, presetAbs) } : {}),
    ...(cfg.goals ? { goals: cfg.goals } : {}),
    requested: merged.size,
    redefinitions: redefinitions.map((r) => ({ ...r, override: overrideFiles.has(r.to.origin.file) })),
    dropped,
    issues,
    configText,
  };
}

/**
 * Re-bake without make (docs/adr/0093): only sources Kconfig never reads changed since `last`
 * was baked and read back, so the config is `last`'s with another CONFIG_LOCALVERSION, and the
 * release is `last.release` with its localversion swapped (setlocalversion's other inputs,
 * localversion* files and scripts/, are files whose change forces a full configure). The
 * compile's own make regenerates include/config/ from the new .config, and the compile step
 * reads the release make used back from include/config/kernel.release.
 * Undefined when `last` does not have the expected shape (the caller bakes with make then).
 */
export function rebakeText(last: { release: string; configText: string }, oldLocalversion: string, localversion: string): { release: string; configText: string } | undefined {
  const line = /^CONFIG_LOCALVERSION="(.*)"$/m;
  const m = line.exec(last.configText);
  if (!m || m[1] !== oldLocalversion || !last.release.endsWith(oldLocalversion)) return undefined;
  if (!/^# CONFIG_LOCALVERSION_AUTO is not set$/m.test(last.configText) || /[\\"]/.test(localversion)) return undefined;
  return {
    release: last.release.slice(0, last.release.length - oldLocalversion.length) + localversion,
    configText: last.configText.replace(line, `CONFIG_LOCALVERSION="${localversion}"`),
  };
}

/** Bake CONFIG_LOCALVERSION and read the release back with `make -s kernelrelease`. */
export async function bakeRelease(m: MakeEnv, localversion: string): Promise<{ release: string; configText: string }> {
  const dotconfig = join(m.build, ".config");
  await run([join(m.src, "scripts/config"), "--file", dotconfig, "--disable", "LOCALVERSION_AUTO", "--set-str", "LOCALVERSION", localversion], { env: m.env });
  // syncconfig = olddefconfig + include/config/auto.conf, which setlocalversion reads.
  const r = await make(m, ["syncconfig", "kernelrelease"], ["-s"]);
  const release = r.stdout.trim().split("\n").pop() ?? "";
  return { release, configText: readFileSync(dotconfig, "utf8") };
}
