/**
 * `kiln bump <source>`: resolve a new version of a source pin (without touching kiln.lock),
 * classify the series on it, list the new symbols, configure, audit and check invariants on it,
 * diff the configs, and write one report (docs/bump.md). `--apply` changes kiln.toml's pin,
 * kiln.lock, the series and the pending layer, only when every gate passed (or with --force).
 */
import type { Command } from "commander";
import { ProjectError } from "../errors.js";
import type { Context } from "./context.js";

interface BumpFlags {
  to?: string;
  url?: string;
  sha256?: string;
  ref?: string;
  target?: string[];
  arch?: string[];
  refresh?: boolean;
  dropUpstream?: boolean;
  apply?: boolean;
  force?: boolean;
  out?: string;
  pending: string;
  build?: boolean;
  boot?: boolean;
}

export function registerBumpCommand(prog: Command, ctx: Context): void {
  prog
    .command("bump <source>")
    .description("move a source pin to a new version: classify the patches, list new symbols, configure, audit and diff on the new tree; one report in bump-report/")
    .option("--to <version>", "a Debian package (linux-source-X.Y), a Debian version, or another [source.X] of kiln.toml")
    .option("--url <url>", "a new tarball URL (with --sha256)")
    .option("--sha256 <hex>", "the new tarball's sha256")
    .option("--ref <ref>", "a new git ref (git pins)")
    .option("--target <targets...>", "only these targets")
    .option("--arch <arches...>", "only these arches")
    .option("--refresh", "with --apply: rewrite patches that need an offset or fuzz in place, with zero offset, keeping their header")
    .option("--drop-upstream", "with --apply: remove patches that are already upstream from the series")
    .option("--apply", "change kiln.toml's pin, kiln.lock, the series and the pending layer when every gate passed")
    .option("--force", "with --apply: apply although a gate failed (the report records what was overridden)")
    .option("--out <dir>", "the report folder", "bump-report")
    .option("--pending <dir>", "the pending layer for new symbols ({arch} and {target} are replaced)", "config/pending/{arch}")
    .option("--build", "with --apply: then build the bumped cells (the ordinary `kiln build`)")
    .option("--boot", "with --apply: then build and boot the bumped cells (the ordinary `kiln boot`)")
    .action(async (source: string, o: BumpFlags) => {
      if (o.force && !o.apply) throw new ProjectError("--force only makes sense with --apply", {}, "add --apply, or drop --force to only report");
      if ((o.build || o.boot) && !o.apply) throw new ProjectError(`--${o.boot ? "boot" : "build"} needs --apply: the ordinary flow builds the pin kiln.lock records`, {}, "add --apply (the build runs only when the bump applied)");
      const { bump, gateError } = await import("../bump/bump.js");
      const project = await ctx.project();
      const ui = ctx.globals.json ? ctx.stderrUi : ctx.ui;
      const r = await bump(project, {
        source,
        request: { ...(o.to !== undefined ? { to: o.to } : {}), ...(o.url !== undefined ? { url: o.url } : {}), ...(o.sha256 !== undefined ? { sha256: o.sha256 } : {}), ...(o.ref !== undefined ? { ref: o.ref } : {}) },
        ...(o.target ? { targets: o.target } : {}), ...(o.arch ? { arches: o.arch } : {}),
        refresh: !!o.refresh, dropUpstream: !!o.dropUpstream, apply: !!o.apply, force: !!o.force, out: o.out, pendingDir: o.pending, ui, paths: await ctx.paths(),
      });
      if (ctx.globals.json) ctx.printJson(r);
      const err = gateError(r);
      if (err) throw err;
      if (r.applied && (o.build || o.boot)) {
        // the ordinary flow on the bumped project, as `kiln build` / `kiln boot` would run it
        const args = ["-C", project.dir, o.boot ? "boot" : "build", ...new Set(r.cells.map((c) => c.target))];
        const arches = [...new Set(r.cells.map((c) => c.arch))];
        if (arches.length === 1) args.push("--arch", arches[0]!);
        const { program } = await import("../cli.js");
        await (await program(args)).parseAsync(args, { from: "user" });
      }
    });
}
