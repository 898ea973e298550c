/**
 * `kiln config …`: the config-truth commands. audit and explain here; the version-bump, export,
 * diff and ARK tools join them from src/config/.
 */
import type { Command } from "commander";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import type { Project } from "../project/load.js";
import type { Context } from "./context.js";
import { configuredGate } from "./check.js";

export function registerConfigCommands(prog: Command, ctx: Context): Command {
  const config = prog.command("config").description("config truth: audit, explain, and the tools around layers");

  config
    .command("audit [targets...]")
    .description("configure and audit without compiling: mismatch, unknown, redefined, malformed; exit 2 on a finding")
    .option("--arch <arch>", "only this arch")
    .option("--report-only", "report findings without failing")
    .action(async (targets: string[], o: { arch?: string; reportOnly?: boolean }) => {
      await configuredGate(ctx, targets, o);
    });

  config
    .command("explain <symbol>")
    .description("say why a symbol has its value in a target's configured tree")
    .option("--target <target>", "the target (default: the first)")
    .option("--arch <arch>", "the arch (default: the target's first)")
    .action(async (symbol: string, o: { target?: string; arch?: string }) => {
      const [{ pickCell, configureCells }, { explainConfigured }, { layerFiles }, { parseFragment, mergeRequests }] = await Promise.all([
        import("../pipeline/cells.js"),
        import("../pipeline/audit.js"),
        import("../pipeline/configure.js"),
        import("../core/fragment.js"),
      ]);
      const ui = ctx.ui;
      const project = await ctx.project();
      const cell = pickCell(project, o.target, o.arch);
      const decl = project.targets[cell.target]!;
      const { cells } = await configureCells(project, [cell], { ui, paths: await ctx.paths(), reportOnly: true });
      const c = cells[0]!;
      const src = join(c.manifest.build_dir!, "..", "src");
      // Explained from the layers' requests, as the audit does (docs/adr/0015): the first line
      // says requested -> got and why, or, for a symbol no layer sets, where its value comes from.
      const fragments = layerFiles(project, cell.target, decl, cell.arch);
      const { merged } = mergeRequests(fragments.map((f) => parseFragment(readFileSync(f.file, "utf8"), f.rel, f.layer).requests));
      const x = explainConfigured(src, cell.arch, { method: decl.config.method, ...(decl.config.base ? { base: decl.config.base } : {}), fragments }, c.configText, merged, symbol);
      if (ctx.globals.json) return ctx.printJson(x);
      ui.info(x.text);
      for (const a of x.actions) ui.info(`  to change it: ${a}`);
      if (x.menuPath.length) ui.info(`  menu: ${x.menuPath.join(" > ")}`);
      for (const d of x.details) ui.info(`  ${d}`);
      for (const l of x.locations) ui.info(`  defined at ${l.file}:${l.line}`);
    });

  config
    .command("new-symbols")
    .description("after a version bump: list the new symbols per (arch, variant) and write one pending file per symbol for review")
    .requiredOption("--source <name>", "the new source pin, declared in kiln.toml (e.g. [source.next])")
    .option("--target <targets...>", "only these targets")
    .option("--arch <arches...>", "only these arches")
    .option("--pending <dir>", "the pending layer folder ({arch} and {target} are replaced)", "config/pending/{arch}")
    .option("--dry-run", "count, write nothing")
    .action(async (o: { source: string; target?: string[]; arch?: string[]; pending: string; dryRun?: boolean }) => {
      const { newSymbols } = await import("../config/new_symbols.js");
      const ui = ctx.ui;
      const project = await ctx.project();
      const r = await newSymbols(project, { source: o.source, ...(o.target ? { targets: o.target } : {}), ...(o.arch ? { arches: o.arch } : {}), pendingDir: o.pending, dryRun: !!o.dryRun, ui });
      if (ctx.globals.json) return ctx.printJson(r);
      for (const c of r.cells)
        ui.info(`${c.arch}/${c.target}: ${c.count} new symbol(s) in ${r.newVersion}; ${c.written.length} written, ${c.unchanged.length} unchanged, ${c.inLayers.length} already in layers, ${c.kept.length} kept -> ${c.pendingDir}${c.seriesSkipped ? ` (series skipped: ${c.seriesSkipped})` : ""}`);
    });

  config
    .command("export [target]")
    .description("write a minimal defconfig or fragment that reproduces the final config (a savedefconfig fixed point)")
    .option("--arch <arch>", "the arch (default: the target's first)")
    .option("--format <format>", "defconfig or fragment", "defconfig")
    .option("-o, --out <file>", "write here instead of stdout")
    .action(async (target: string | undefined, o: { arch?: string; format: "defconfig" | "fragment"; out?: string }) => {
      const { exportConfig } = await import("../config/export.js");
      const ui = o.out ? ctx.ui : ctx.stderrUi;
      const project = await ctx.project();
      const r = await exportConfig(project, { ...(target ? { target } : {}), ...(o.arch ? { arch: o.arch } : {}), format: o.format, ...(o.out ? { out: o.out } : {}), ui });
      if (ctx.globals.json) ctx.printJson(r);
      else if (!o.out) process.stdout.write(r.text);
      else ui.info(`${r.symbols} line(s) reproduce ${r.configSymbols} symbols of ${r.target}/${r.arch} -> ${o.out}`);
    });

  config
    .command("diff <a> <b>")
    .description("compare two configs: files, store entries (release:<r>), or targets (<target>[/<arch>]), grouped by menu")
    .option("--no-menus", "one flat list, like scripts/diffconfig")
    .action(async (a: string, b: string, o: { menus: boolean }) => {
      const { configDiff, parseConfigRef, formatGrouped, diffJson } = await import("../config/diff.js");
      const ui = ctx.stderrUi;
      let project: Project | undefined;
      try {
        project = await ctx.project();
      } catch {
        project = undefined;
      }
      const r = await configDiff(parseConfigRef(a, project), parseConfigRef(b, project), { ...(project ? { project } : {}), noMenus: !o.menus, ui });
      if (ctx.globals.json) ctx.printJson(diffJson(r));
      else process.stdout.write(o.menus ? formatGrouped(r.groups) : r.text);
    });

  config
    .command("import-ark <root>")
    .description("convert a Fedora/RHEL ARK config tree (redhat/configs) into kiln layers and print the kiln.toml targets")
    .option("--flavor <flavors...>", "only these flavors (priority.<flavor>)")
    .option("--into <dir>", "where the layers go in the project", "config/ark")
    .option("--source <name>", "the source pin the targets use", "linux")
    .option("--replace", "replace an earlier import")
    .option("--dry-run", "check and plan, write nothing")
    .action(async (root: string, o: { flavor?: string[]; into: string; source: string; replace?: boolean; dryRun?: boolean }) => {
      const { importArk } = await import("../config/ark.js");
      const ui = ctx.ui;
      const project = await ctx.project();
      const r = importArk({ root, projectDir: project.dir, ...(o.flavor ? { flavors: o.flavor } : {}), into: o.into, source: o.source, replace: !!o.replace, dryRun: !!o.dryRun });
      if (ctx.globals.json) return ctx.printJson(r);
      for (const c of r.cells) ui.info(`${c.flavor} ${c.key}: ${c.layers.length} layer(s)${c.missing.length ? `, missing: ${c.missing.join(", ")}` : ""}`);
      for (const s of r.skipped) ui.info(`skipped ${s.key}: ${s.reason}`);
      ui.info(`${r.files} per-symbol file(s) ${o.dryRun ? "would be copied" : "copied"} into ${r.into}; add these targets to kiln.toml:\n`);
      process.stdout.write(r.toml);
    });

  return config;
}
