/**
 * Checks that need only kiln.toml and the project folder, run before any work (before a source is
 * imported or a tree checked out): every layer folder of the selected cells exists, presets
 * resolve inside the presets folder, the series folder or file exists, and the sources the command
 * names are declared. Every problem is listed at once, each with kiln.toml's file:line.
 * `config: false` leaves out the config checks (the patch gate needs only the series).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ProjectError, KilnError } from "../errors.js";
import { locateKey } from "./toml_locate.js";
import { isDir, projectPath, seriesFor, type Project } from "./load.js";

export interface PreflightCell {
  target: string;
  arch: string;
}

export interface Problem {
  line?: number;
  message: string;
}

/** Every problem the cells would hit, in kiln.toml order. Reads only the project folder. */
export function preflightProblems(project: Project, cells: readonly PreflightCell[], extraSources: readonly string[] = [], o: { config?: boolean } = {}): Problem[] {
  const config = o.config !== false;
  const out: Problem[] = [];
  const seen = new Set<string>();
  const add = (p: Problem) => {
    const k = `${p.line}:${p.message}`;
    if (!seen.has(k)) seen.add(k), out.push(p);
  };
  for (const s of extraSources) {
    if (!(s in project.pins)) add({ message: `source "${s}" is not declared (declared: ${Object.keys(project.pins).join(", ") || "none"})` });
  }
  for (const c of cells) {
    const t = project.targets[c.target];
    if (!t) {
      add({ message: `no target "${c.target}" (targets: ${Object.keys(project.targets).join(", ")})` });
      continue;
    }
    if (!t.arches.includes(c.arch)) add({ line: locateKey(project.text, ["target", c.target, "arches"]), message: `target "${c.target}" is not declared for ${c.arch}` });
    if (!(t.source in project.pins)) add({ line: locateKey(project.text, ["target", c.target, "source"]), message: `target "${c.target}" uses source "${t.source}", which is not declared` });
    if (config) t.config.layers.forEach((layer0, i) => {
      const layer = typeof layer0 === "string" ? { path: layer0, optional: false } : layer0;
      const rel = layer.path.replaceAll("{arch}", c.arch);
      const line = locateKey(project.text, ["target", c.target, "config", "layers", i]);
      let dir: string;
      try {
        dir = projectPath(project, rel);
      } catch (e) {
        add({ line, message: (e as KilnError).message });
        return;
      }
      if (!layer.optional && !isDir(dir)) add({ line, message: `config layer "${rel}" of target "${c.target}" (${c.arch}) is not a folder: create ${rel}/ with fragment files (*.config), mark the layer optional, or remove it` });
    });
    if (config && t.config.method === "preset" && t.config.preset) {
      const line = locateKey(project.text, ["target", c.target, "config", "preset"]);
      try {
        const f = projectPath(project, join(project.decl.presets_dir, t.config.preset), project.decl.presets_dir, "preset");
        if (!existsSync(f)) add({ line, message: `preset ${t.config.preset} of target "${c.target}" does not exist in ${project.decl.presets_dir}/` });
      } catch (e) {
        add({ line, message: (e as KilnError).message });
      }
    }
    const series = seriesFor(project, t);
    if (series) {
      const key = t.series ? ["target", c.target, "series"] : ["series"];
      if (series.file && !existsSync(join(project.dir, series.file))) {
        add({ line: locateKey(project.text, [...key, "file"]), message: `series file ${series.file} does not exist` });
      } else if (!series.file && series.dir && !isDir(join(project.dir, series.dir))) {
        add({ line: locateKey(project.text, [...key, "dir"]), message: `patch folder ${series.dir} does not exist: create it, or remove the series` });
      }
    }
  }
  return out;
}

/** Throw one ProjectError listing every problem, each as kiln.toml:line. */
export function preflight(project: Project, cells: readonly PreflightCell[], extraSources: readonly string[] = [], o: { config?: boolean } = {}): void {
  const problems = preflightProblems(project, cells, extraSources, o);
  if (!problems.length) return;
  const lines = problems.map((p) => `${p.line ? `${project.file}:${p.line}` : project.file}: ${p.message}`);
  if (problems.length === 1) {
    throw new ProjectError(problems[0]!.message, { file: project.file, ...(problems[0]!.line ? { line: problems[0]!.line } : {}) }, "nothing was imported or built; fix kiln.toml or the project folder");
  }
  throw new ProjectError(`kiln.toml has ${problems.length} problem(s):\n  ${lines.join("\n  ")}`, { file: project.file }, "nothing was imported or built; fix kiln.toml or the project folder");
}
