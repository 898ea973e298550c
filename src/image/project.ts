/**
 * [image.<name>] in kiln.toml: which images and arches a command means, and the checks that need
 * only kiln.toml and the project folder (every problem with its kiln.toml line, before any build).
 */
import { existsSync, statSync } from "node:fs";
import { ProjectError, type KilnError } from "../errors.js";
import { locateKey } from "../project/toml_locate.js";
import { projectPath, type Project } from "../project/load.js";
import type { ImageDecl } from "../project/schema.js";
import { imageArchProblem } from "../tables/image_boot.js";

export interface ImageCell {
  name: string;
  decl: ImageDecl;
  target: string;
  arch: string;
}

export interface ImageProblem {
  line?: number;
  message: string;
}

/** The target an image uses (pure): its own, else the only one. */
export function imageTarget(project: Project, decl: ImageDecl): string | undefined {
  if (decl.target) return decl.target;
  const names = Object.keys(project.targets);
  return names.length === 1 ? names[0] : undefined;
}

/** The arches an image is made for (pure): its own, else the target's that images support. */
export function imageArches(project: Project, decl: ImageDecl, target: string | undefined): string[] {
  if (decl.arches) return decl.arches;
  const t = target ? project.targets[target] : undefined;
  return (t?.arches ?? []).filter((a) => imageArchProblem(a, decl.layout) === undefined);
}

/** Every problem of the selected images (reads only the project folder). */
export function imageProblems(project: Project, names: readonly string[], arch?: string): ImageProblem[] {
  const out: ImageProblem[] = [];
  const images = project.decl.image;
  for (const name of names) {
    const decl = images[name];
    const at = (key?: string) => locateKey(project.text, key ? ["image", name, key] : ["image", name]);
    if (!decl) {
      out.push({ message: `no image "${name}" in kiln.toml (images: ${Object.keys(images).join(", ") || "none: declare one as [image.<name>]"})` });
      continue;
    }
    const target = imageTarget(project, decl);
    if (!target) out.push({ line: at(), message: `image "${name}" names no target and the project has ${Object.keys(project.targets).length} targets: add target = "<one of ${Object.keys(project.targets).join(", ")}>"` });
    else if (!project.targets[target]) out.push({ line: at("target"), message: `image "${name}" uses target "${target}", which is not declared (targets: ${Object.keys(project.targets).join(", ")})` });
    const arches = imageArches(project, decl, target);
    if (arch && !arches.includes(arch)) out.push({ line: at(decl.arches ? "arches" : undefined), message: `image "${name}" is not made for ${arch} (its arches: ${arches.join(", ") || "none"})` });
    for (const a of arch ? [arch] : arches) {
      const bad = imageArchProblem(a, decl.layout);
      if (bad) out.push({ line: at("arches"), message: `image "${name}" for ${a}: ${bad}` });
      else if (target && project.targets[target] && !project.targets[target]!.arches.includes(a)) out.push({ line: at("arches"), message: `image "${name}" is made for ${a}, but target "${target}" does not build ${a}` });
    }
    if (arches.length === 0) out.push({ line: at(), message: `image "${name}" has no arch kiln can make it for (its target builds ${project.targets[target ?? ""]?.arches.join(", ") ?? "nothing"})` });
    const paths: [keyof ImageDecl, "file" | "dir" | "any"][] = [["initramfs", "file"], ["rootfs", "any"], ["data", "dir"], ["firmware", "dir"]];
    for (const [key, kind] of paths) {
      const v = decl[key] as string | undefined;
      if (v === undefined || (key === "initramfs" && v === "kiln")) continue;
      let abs: string;
      try {
        abs = projectPath(project, v, undefined, `image ${key}`, at(key));
      } catch (e) {
        out.push({ line: at(key), message: (e as KilnError).message });
        continue;
      }
      if (!existsSync(abs)) out.push({ line: at(key), message: `${key} "${v}" of image "${name}" does not exist` });
      else if (kind === "file" && !statSync(abs).isFile()) out.push({ line: at(key), message: `initramfs "${v}" of image "${name}" is not a file (give a cpio archive, or "kiln")` });
      else if (kind === "dir" && !statSync(abs).isDirectory()) out.push({ line: at(key), message: `${key} "${v}" of image "${name}" is not a folder` });
    }
  }
  return out;
}

/** The cells of the selected images; throws one ProjectError listing every problem. */
export function selectImages(project: Project, name: string | undefined, arch?: string): ImageCell[] {
  const names = name ? [name] : Object.keys(project.decl.image);
  if (names.length === 0) throw new ProjectError("kiln.toml declares no image", { file: project.file }, 'declare one, e.g.\n  [image.appliance]\n  layout = "gpt-ab"\n(see docs/images.md)');
  const problems = imageProblems(project, names, arch);
  if (problems.length) {
    const lines = problems.map((p) => `${p.line ? `${project.file}:${p.line}` : project.file}: ${p.message}`);
    throw new ProjectError(problems.length === 1 ? problems[0]!.message : `kiln.toml has ${problems.length} image problem(s):\n  ${lines.join("\n  ")}`, problems.length === 1 ? { file: project.file, ...(problems[0]!.line ? { line: problems[0]!.line } : {}) } : { file: project.file }, "nothing was built; fix kiln.toml or the project folder");
  }
  const cells: ImageCell[] = [];
  for (const n of names) {
    const decl = project.decl.image[n]!;
    const target = imageTarget(project, decl)!;
    for (const a of arch ? [arch] : imageArches(project, decl, target)) cells.push({ name: n, decl, target, arch: a });
  }
  return cells;
}
