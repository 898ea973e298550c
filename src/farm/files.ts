/**
 * The project files a farm job carries, read by content: kiln.toml, kiln.lock, the patch
 * series, every target's config layers (each declared arch), the presets folder and the
 * trusted public keys named by a relative path. Never the signing key, never out/ or dot
 * folders. A path that leaves the project, a local tarball pin or a too-large project is a
 * clear error: the workers cannot read the submitter's disk.
 */
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { ProjectError } from "../errors.js";
import type { Project } from "../project/load.js";
import { JOB_LIMITS, jobPathProblem } from "./job.js";

export function projectJobFiles(project: Project): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let total = 0;
  const add = (abs: string, what: string) => {
    const rel = relative(project.dir, abs);
    if (rel.startsWith("..") || isAbsolute(rel)) {
      throw new ProjectError(`${what} ${abs} is outside the project folder: a farm job carries only the project's own files`, { file: project.file }, "move it into the project folder (or build this project locally)");
    }
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) throw new ProjectError(`${what} ${rel} is a symbolic link: a farm job carries plain files only`, { file: abs }, "replace the link with the file");
    if (st.isDirectory()) {
      for (const e of readdirSync(abs).sort()) if (!e.startsWith(".")) add(join(abs, e), what);
      return;
    }
    if (!st.isFile()) return;
    const why = jobPathProblem(rel.split("\\").join("/"));
    if (why) throw new ProjectError(`${what} ${rel} ${why}: it cannot travel in a farm job`, { file: abs }, "rename it");
    if (st.size > JOB_LIMITS.maxFileBytes) throw new ProjectError(`${rel} is ${st.size} bytes; a farm job carries files of at most ${JOB_LIMITS.maxFileBytes} bytes`, { file: abs });
    if (out.has(rel)) return;
    total += st.size;
    if (total > JOB_LIMITS.maxTotalBytes || out.size >= JOB_LIMITS.maxFiles) {
      throw new ProjectError(`the project's files pass the farm job bounds (${JOB_LIMITS.maxFiles} files, ${JOB_LIMITS.maxTotalBytes} bytes)`, { file: project.file }, "keep large files (tarballs, build output) out of the series, layer and presets folders");
    }
    out.set(rel, readFileSync(abs));
  };
  add(project.file, "kiln.toml");
  const lock = join(project.dir, "kiln.lock");
  if (existsSync(lock)) add(lock, "kiln.lock");
  for (const [name, pin] of Object.entries(project.pins)) {
    if (pin.kind === "file") {
      throw new ProjectError(`source "${name}" is a local tarball: farm workers fetch sources by their pins and cannot read it`, { file: project.file }, "pin a url (with sha256) or a Debian package, or build locally");
    }
  }
  const series = [project.decl.series, ...Object.values(project.targets).map((t) => t.series)];
  for (const s of series) {
    if (!s) continue;
    if (s.dir) addIf(resolve(project.dir, s.dir), "series folder", add);
    if (s.file) addIf(resolve(project.dir, s.file, ".."), "series folder", add);
    if (s.mbox) addIf(resolve(project.dir, s.mbox), "series mbox", add);
  }
  for (const t of Object.values(project.targets)) {
    for (const l of t.config.layers) {
      const p = typeof l === "string" ? l : l.path;
      for (const a of t.arches) addIf(resolve(project.dir, p.replaceAll("{arch}", a)), "config layer", add);
    }
  }
  addIf(resolve(project.dir, project.decl.presets_dir), "presets folder", add);
  for (const k of project.decl.ship.trusted_keys) {
    if (/^RW[A-Za-z0-9+/]{54}$/.test(k.trim()) || isAbsolute(k)) continue;
    addIf(resolve(project.dir, k), "trusted key", add);
  }
  return out;
}

function addIf(abs: string, what: string, add: (abs: string, what: string) => void): void {
  if (existsSync(abs)) add(abs, what);
}
