/** `kiln init`: scaffold a project from a bundled example. */
import type { Command } from "commander";
import { existsSync, cpSync, mkdirSync, readdirSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { ProjectError } from "../errors.js";
import type { Context } from "./context.js";

export function examplesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, "..", "..", "..", "examples");
}

export function registerInitCommand(prog: Command, ctx: Context): void {
  prog
    .command("init [dir]")
    .description("scaffold a kernel project from the bundled example (examples/microvm)")
    .option("--example <name>", "which bundled example", "microvm")
    .action((dir: string | undefined, o: { example: string }) => {
      const src = join(examplesDir(), o.example);
      if (!existsSync(join(src, "kiln.toml"))) throw new ProjectError(`no bundled example "${o.example}"`, {}, `examples: ${readdirSync(examplesDir()).join(", ")}`);
      const dest = resolve(dir ?? ".");
      if (existsSync(join(dest, "kiln.toml"))) throw new ProjectError(`${dest} already has a kiln.toml`, { file: join(dest, "kiln.toml") }, "choose an empty folder");
      mkdirSync(dest, { recursive: true });
      cpSync(src, dest, { recursive: true, filter: (s) => !/kiln\.lock$/.test(s) && !/\/(vendor|out)$/.test(s.slice(src.length)) });
      ctx.ui.info(`created ${dest} from the ${o.example} example; build it with: kiln -C ${dest} build`);
    });
}
