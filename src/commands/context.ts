/**
 * What every command gets, built once by src/cli.ts: the global options, the ui, the kiln paths,
 * and the project, opened on first use (kiln fetch and kiln init may run without one).
 * Kept light: the project loader (TOML, zod) is imported only when a command asks for it, so
 * `kiln --version` and `kiln --help` load nothing they do not print.
 */
import type { Command } from "commander";
import type { Project } from "../project/load.js";
import type { Paths } from "../store/paths.js";
import { KilnError } from "../errors.js";
import { makeUi, type Ui } from "../ui/log.js";

export interface Globals {
  project?: string;
  json?: boolean;
  verbose?: boolean;
}

export interface Context {
  /** The global options (-C, --json, --verbose), read once the command line is parsed. */
  readonly globals: Globals;
  /** The ui for human lines: stdout, or stderr under --json. */
  readonly ui: Ui;
  /** A ui whose human lines go to stderr (stdout carries a command's own output). */
  readonly stderrUi: Ui;
  /** The project of -C or the nearest folder with kiln.toml; opened once. */
  project(): Promise<Project>;
  /** The project when there is one; undefined when no kiln.toml is found (and no -C was given). */
  maybeProject(): Promise<Project | undefined>;
  /** KILN_HOME's layout. */
  paths(): Promise<Paths>;
  /** Print a JSON document on stdout. */
  printJson(v: unknown): void;
}

export function makeContext(prog: Command): Context {
  let globals: Globals | undefined;
  let ui: Ui | undefined;
  let stderrUi: Ui | undefined;
  let project: Promise<Project> | undefined;
  const g = () => (globals ??= prog.opts<Globals>());
  const ctx: Context = {
    get globals() {
      return g();
    },
    get ui() {
      return (ui ??= makeUi(g()));
    },
    get stderrUi() {
      return (stderrUi ??= makeUi({ ...g(), stderr: true }));
    },
    project() {
      return (project ??= import("../project/load.js").then((m) => m.openProject(g().project)));
    },
    async maybeProject() {
      if (g().project) return ctx.project();
      // no kiln.toml anywhere up: say so without loading the project loader (TOML, zod)
      const { findProjectDir } = await import("../project/find.js");
      try {
        findProjectDir(process.cwd());
      } catch {
        return undefined;
      }
      try {
        return await ctx.project();
      } catch (e) {
        if (e instanceof KilnError && /no kiln\.toml found/.test(e.message)) return undefined;
        throw e;
      }
    },
    async paths() {
      return (await import("../store/paths.js")).paths();
    },
    printJson(v: unknown) {
      process.stdout.write(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `0x${x.toString(16)}` : x), 2) + "\n");
    },
  };
  return ctx;
}

/** A whole number option (>= min). */
export function intOption(name: string, min = 0): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new KilnError(`${name} expects a whole number${min > 0 ? ` >= ${min}` : ""}, got "${v}"`);
    return n;
  };
}
