/**
 * `kiln dev layer` and `kiln dev worktree`: the developer's side of a build. Each builds the
 * cell first (a reuse when nothing changed, with the warm tree checked out), then finds or makes
 * the store entry's devel layer (src/devel): compile_commands.json, vmlinux-gdb.py and the
 * out-of-tree module set.
 */
import type { Command } from "commander";
import { fmtDuration } from "../ui/log.js";
import type { Context } from "./context.js";
import { buildSelected } from "./build.js";

const devel = () => import("../devel/index.js");

export function registerDevCommands(prog: Command, ctx: Context): void {
  const dev = prog.command("dev").description("devel layer of a build: compile_commands.json, vmlinux-gdb.py, module headers; editor worktrees");

  dev
    .command("layer [target]")
    .description("build (or reuse), then make the store entry's devel layer from the warm tree (no recompile) and print where it is")
    .option("--arch <arch>", "the arch (default: the target's first)")
    .action(async (target: string | undefined, o: { arch?: string }) => {
      const ui = ctx.ui;
      const [built] = await buildSelected(ctx, target ? [target] : [], { ...(o.arch ? { arch: o.arch } : {}), tree: true });
      const m = built!.manifest;
      const d = await (await devel()).ensureDevel(await ctx.project(), m.target, m, await ctx.paths(), (x) => ui.info(x));
      if (ctx.globals.json) {
        ctx.printJson({ release: d.info.release, dir: d.dir, status: d.status, compile_commands: d.info.compile_commands, build_files: d.info.build_files, seconds: d.seconds });
        return;
      }
      ui.step("devel", `${d.info.release}: ${d.status === "made" ? `made in ${fmtDuration(d.seconds * 1000)}` : "in the store"} — ${d.dir} (${d.info.compile_commands} compile commands, ${d.info.build_files} files for module builds)`);
    });

  dev
    .command("worktree <dir> [target]")
    .description("lay a checkout of the build's exact source tree into <dir> with compile_commands.json pointing into it")
    .option("--arch <arch>", "the arch (default: the target's first)")
    .action(async (dir: string, target: string | undefined, o: { arch?: string }) => {
      const ui = ctx.ui;
      const [built] = await buildSelected(ctx, target ? [target] : [], { ...(o.arch ? { arch: o.arch } : {}), tree: true });
      const m = built!.manifest;
      const p = await ctx.paths();
      const lib = await devel();
      const d = await lib.ensureDevel(await ctx.project(), m.target, m, p, (x) => ui.info(x));
      const { GitStore } = await import("../effects/git.js");
      const w = await lib.layWorktree({ git: new GitStore(p.git), entry: d.entry, dir, notify: (x) => ui.info(x) });
      if (ctx.globals.json) {
        ctx.printJson({ release: d.info.release, dir: w.dir, compile_commands: w.compileCommands, build_dir: w.buildDir, files: w.files, seconds: w.seconds });
        return;
      }
      ui.step("worktree", `${w.dir}: ${d.info.release}, ${w.files} files in ${fmtDuration(w.seconds * 1000)}; compile_commands.json runs each command in ${w.buildDir}`);
    });
}
