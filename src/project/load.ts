/**
 * Load and validate a project folder's kiln.toml into a resolved Project.
 * Every error names the file, the line and the key, and says what is expected.
 */
import { confine } from "./confine.js";
import { readFileSync, existsSync, statSync } from "node:fs";
import { join, resolve, relative, isAbsolute, dirname } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import type { z } from "zod";
import { ProjectError } from "../errors.js";
import { locateKey } from "./toml_locate.js";
import {
  ProjectSchema,
  PIN_KINDS,
  type Pin,
  type ProjectDecl,
  type TargetDecl,
  type SeriesDecl,
} from "./schema.js";

import { PROJECT_FILE, findProjectDir } from "./find.js";

export { PROJECT_FILE, findProjectDir };

export interface Project {
  dir: string;
  file: string;
  /** The raw text, kept for hashing the inputs into the manifest. */
  text: string;
  decl: ProjectDecl;
  pins: Record<string, Pin>;
  targets: Record<string, TargetDecl>;
}

/** The project of the nearest folder (from start, or the current one) that holds kiln.toml. */
export function openProject(start?: string): Project {
  return loadProject(findProjectDir(start ?? process.cwd()));
}

export function loadProject(dir: string): Project {
  const file = join(dir, PROJECT_FILE);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ProjectError(`cannot read ${PROJECT_FILE}: ${(e as Error).message}`, { file });
  }
  return parseProject(text, file);
}

/** Pure apart from the path checks done later: parse and validate the text of a kiln.toml. */
export function parseProject(text: string, file: string): Project {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (e) {
    if (e instanceof TomlError) {
      const msg = e.message.split("\n")[0] ?? e.message;
      throw new ProjectError(`invalid TOML: ${msg}`, { file, line: e.line });
    }
    throw e;
  }
  const res = ProjectSchema.safeParse(raw);
  if (!res.success) throw zodToProjectError(res.error, text, file);
  const decl = res.data;
  const pins: Record<string, Pin> = {};
  for (const [name, body] of Object.entries(decl.source)) pins[name] = parsePin(name, body, text, file);
  for (const [tname, t] of Object.entries(decl.target)) {
    if (!(t.source in pins)) {
      throw new ProjectError(
        `target "${tname}" uses source "${t.source}", which is not declared`,
        { file, line: locateKey(text, ["target", tname, "source"]) },
        `declare it as [source.${t.source}] or use one of: ${Object.keys(pins).join(", ") || "(none declared)"}`,
      );
    }
  }
  return { dir: dirname(file), file, text, decl, pins, targets: decl.target };
}

function parsePin(name: string, body: Record<string, unknown>, text: string, file: string): Pin {
  const kinds = (Object.keys(PIN_KINDS) as (keyof typeof PIN_KINDS)[]).filter((k) => k in body);
  const line = locateKey(text, ["source", name]);
  if (kinds.length !== 1) {
    throw new ProjectError(
      kinds.length === 0
        ? `source "${name}" names no pin kind`
        : `source "${name}" names more than one pin kind (${kinds.join(", ")})`,
      { file, line },
      'give exactly one of: url = "https://…" + sha256, debian = "linux-source-X.Y", path = "<tarball>", git = "<repo>" + ref',
    );
  }
  const kind = kinds[0]!;
  const res = (PIN_KINDS[kind] as z.ZodType).safeParse(body);
  if (!res.success) throw zodToProjectError(res.error, text, file, ["source", name]);
  const data = res.data as Record<string, unknown>;
  const k = kind === "path" ? "file" : kind;
  return { kind: k, ...data } as Pin;
}

function zodToProjectError(err: z.ZodError, text: string, file: string, prefix: string[] = []): ProjectError {
  const lines = err.issues.slice(0, 5).map((iss) => {
    const path = [...prefix, ...iss.path.map(String)];
    const line = locateKey(text, path);
    const key = path.join(".") || "(top level)";
    let msg = iss.message;
    if (iss.code === "unrecognized_keys") msg = `unknown key(s) ${iss.keys.map((k) => `"${k}"`).join(", ")}`;
    if (iss.code === "invalid_type" && /received undefined/.test(iss.message)) msg = `missing required key (${iss.message.replace(/^Invalid input: /, "")})`;
    return { line, text: `${line ? `${file}:${line}` : file}: ${key}: ${msg}` };
  });
  return new ProjectError(
    `${PROJECT_FILE} is invalid:\n  ${lines.map((l) => l.text).join("\n  ")}`,
    {},
    "see docs/project-file.md for the keys and their meaning",
  );
}

/** Resolve a project-relative path, refusing one that escapes `root` when given. */
export function projectPath(project: Project, p: string, root?: string, what = "path", line?: number): string {
  const abs = confine(project.dir, resolve(project.dir, p), project.decl.outside_paths, { what, shown: p, file: project.file, ...(line ? { line } : {}) });
  if (root !== undefined) {
    const r = resolve(project.dir, root);
    const rel = relative(r, abs);
    if (rel.startsWith("..") || isAbsolute(rel)) {
      throw new ProjectError(
        `${what} "${p}" resolves outside ${relative(project.dir, r) || "."}/`,
        { file: project.file, line: locateKey(project.text, ["target"]) },
        `keep ${what}s inside ${root}/; paths with .. or absolute paths that escape it are refused`,
      );
    }
  }
  return abs;
}

export function seriesFor(project: Project, target: TargetDecl): SeriesDecl | undefined {
  return target.series ?? project.decl.series;
}

export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
