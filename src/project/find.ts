/**
 * Where the project is: the nearest folder (from a start folder upwards) that holds kiln.toml.
 * Kept apart from the loader (TOML, zod) so a command that may run without a project (kiln
 * fetch) learns there is none without loading them.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ProjectError } from "../errors.js";

export const PROJECT_FILE = "kiln.toml";

export function findProjectDir(start: string): string {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, PROJECT_FILE))) return dir;
    const up = dirname(dir);
    if (up === dir)
      throw new ProjectError(`no ${PROJECT_FILE} found in ${resolve(start)} or any parent folder`, {}, "run `kiln init` to scaffold a project, or pass --project <dir>");
    dir = up;
  }
}
