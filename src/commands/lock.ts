/** `kiln lock`: resolve the source pins and write kiln.lock. */
import type { Command } from "commander";
import { ProjectError } from "../errors.js";
import type { Context } from "./context.js";

export function registerLockCommand(prog: Command, ctx: Context): void {
  prog
    .command("lock")
    .description("resolve the source pins and write kiln.lock")
    .option("--update [sources...]", "re-resolve these pins (default with --update: all)")
    .action(async (o: { update?: string[] | boolean }) => {
      const { withSources } = await import("../pipeline/sources.js");
      const project = await ctx.project();
      const ui = ctx.ui;
      const names = Object.keys(project.pins);
      const update = o.update === true ? names : Array.isArray(o.update) ? o.update : [];
      for (const u of update) if (!names.includes(u)) throw new ProjectError(`no source "${u}" in kiln.toml`, { file: project.file }, `sources: ${names.join(", ")}`);
      const res = await withSources(project, names, { paths: await ctx.paths(), ui, update }, async (s) => s.entries);
      if (ctx.globals.json) ctx.printJson(res);
      else for (const [n, e] of Object.entries(res)) ui.info(`${n}: ${e.kind} ${e.version ?? e.commit ?? e.url ?? ""} tree ${e.tree.slice(0, 12)} (${e.kernel_version})`);
    });
}
