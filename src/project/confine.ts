/**
 * The project folder is a confinement boundary: every path kiln.toml names (layers, fragments
 * in them, presets, series folders and files, patches in a series) must resolve, symlinks
 * included, inside the project folder, unless kiln.toml opts a folder in explicitly with
 * `outside_paths = ["<folder>", ...]` (docs/project-file.md). Reads the file system (realpath)
 * but changes nothing.
 */
import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { ProjectError } from "../errors.js";

/** The real path of `p`, following symlinks as far as the path exists. */
export function realPathSoFar(p: string): string {
  const tail: string[] = [];
  let cur = resolve(p);
  for (;;) {
    if (existsSync(cur)) {
      try {
        return join(realpathSync(cur), ...tail.reverse());
      } catch {
        /* a dangling link: treat as not existing */
      }
    }
    const up = dirname(cur);
    if (up === cur) return join(cur, ...tail.reverse());
    tail.push(basename(cur));
    cur = up;
  }
}

function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

export interface ConfineWhere {
  /** What the path is, for the message: "config layer", "series folder", "patch"... */
  what: string;
  /** The path as written (for the message). */
  shown: string;
  /** Where it was written: kiln.toml or a series file, and the line. */
  file: string;
  line?: number;
}

/**
 * Returns `abs` when it resolves inside `projectDir` or one of the opted-in `allowed` folders
 * (relative to the project), else throws a ProjectError naming file:line and the way out.
 */
export function confine(projectDir: string, abs: string, allowed: readonly string[], w: ConfineWhere): string {
  const real = realPathSoFar(abs);
  const roots = [realPathSoFar(projectDir), ...allowed.map((a) => realPathSoFar(resolve(projectDir, a)))];
  if (roots.some((r) => inside(r, real))) return abs;
  throw new ProjectError(
    `${w.what} "${w.shown}" resolves outside the project folder (to ${real})`,
    { file: w.file, ...(w.line ? { line: w.line } : {}) },
    `keep it inside ${projectDir}, or opt its folder in explicitly: outside_paths = ["${dirname(real)}"] at the top of kiln.toml`,
  );
}
