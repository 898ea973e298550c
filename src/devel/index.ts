/**
 * The devel layer for a built cell: found in the store entry, or made from the warm tree that
 * holds the build (src/devel/layer.ts), and its artifact `<name>-devel-<release>-<arch>.tar.zst`
 * (the layer's files, deterministic like the run artifact, with its .sha256 beside it).
 */
import { existsSync, lstatSync } from "node:fs";
import { join } from "node:path";
import type { Project } from "../project/load.js";
import type { Manifest } from "../core/manifest.js";
import type { Paths } from "../store/paths.js";
import { projectId, warmTree } from "../store/paths.js";
import { manifestEntry } from "../pipeline/outputs.js";
import { ARCHES } from "../tables/arches.js";
import { ProjectError } from "../errors.js";
import { listTree, writeTarZst, sha256File, writeFileAtomic } from "../ship/artifact.js";
import { develDir, hasDevel, makeDevel, readDevelInfo, warmHolds, type DevelInfo } from "./layer.js";

export { develDir, hasDevel, readDevelInfo, warmHolds, DevelNotInWarmTree } from "./layer.js";
export { layWorktree } from "./worktree.js";
export { gdbCommandLine, gdbFor, hasDebugInfo } from "./gdb.js";

export interface DevelOf {
  entry: string;
  dir: string;
  info: DevelInfo;
  /** "stored" when the entry had it, "made" when it was made now (with make's seconds). */
  status: "stored" | "made";
  seconds: number;
  /** What `make scripts_gdb` wrote in the build folder (when made). */
  touched: string[];
}

/** The devel layer of a cell's build, made from its warm tree when the entry has none yet. */
export async function ensureDevel(project: Project, targetName: string, manifest: Manifest, p: Paths, notify?: (m: string) => void): Promise<DevelOf> {
  const entry = manifestEntry(manifest, p);
  if (hasDevel(entry)) return { entry, dir: develDir(entry), info: readDevelInfo(entry), status: "stored", seconds: 0, touched: [] };
  const target = project.targets[targetName];
  if (!target) throw new ProjectError(`no target "${targetName}" in kiln.toml`, { file: project.file });
  const arch = ARCHES[manifest.arch];
  if (!arch) throw new ProjectError(`unknown arch "${manifest.arch}"`);
  const warm = warmTree(p, projectId(project.decl.name, project.dir), targetName, manifest.arch);
  const build = manifest.build_dir ?? warm.build;
  const r = await makeDevel({
    paths: p,
    entry,
    release: manifest.uts_release!,
    sourceTree: manifest.source_tree,
    arch,
    toolchain: target.toolchain,
    makeVars: target.make_vars,
    timestamp: manifest.inputs.source.timestamp,
    src: join(build, "..", "src"),
    build,
    lock: warm.lock,
    ...(notify ? { notify } : {}),
  });
  return { entry, dir: r.dir, info: r.info, status: r.seconds === 0 ? "stored" : "made", seconds: r.seconds, touched: r.touched };
}

/** The vmlinux gdb loads: the warm build folder's when it holds the build, else the store entry's. */
export function vmlinuxFor(manifest: Manifest, entry: string): string {
  const build = manifest.build_dir;
  if (build && warmHolds(build, manifest.uts_release!).ok) return join(build, "vmlinux");
  const stored = join(entry, "vmlinux");
  if (existsSync(stored)) return stored;
  throw new ProjectError(`no vmlinux for ${manifest.uts_release}: neither the warm build folder nor the store entry has one`, { file: entry }, "rebuild it locally: kiln build --no-reuse");
}

export function develArtifactName(name: string, release: string, arch: string): string {
  return `${name}-devel-${release}-${arch}.tar.zst`;
}

/** Packs `<entry>/devel/` into `<outDir>/<name>-devel-<release>-<arch>.tar.zst` (+ .sha256). */
export async function writeDevelArtifact(o: { entry: string; name: string; release: string; arch: string; timestamp: number; outDir: string }): Promise<{ path: string; sha256: string; sha256Path: string; size: number }> {
  if (!hasDevel(o.entry)) throw new ProjectError(`the store entry has no devel layer`, { file: o.entry }, "make it: kiln dev layer");
  const path = join(o.outDir, develArtifactName(o.name, o.release, o.arch));
  const entries = listTree(o.entry, o.timestamp, (rel) => rel === "devel" || rel.startsWith("devel/"));
  await writeTarZst(entries, path);
  const sha256 = await sha256File(path);
  const sha256Path = `${path}.sha256`;
  writeFileAtomic(sha256Path, `${sha256}\n`);
  return { path, sha256, sha256Path, size: lstatSync(path).size };
}
