/**
 * `kiln report`: a self-contained HTML page about a build (docs/report.md): the step and compile
 * timelines, warnings by file, the config audit, a config diff, sizes, boot timings per arch and a
 * version bump. Reads the build's manifest (the cell's latest, or --manifest), writes one file.
 */
import type { Command } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ProjectError } from "../errors.js";
import type { Context } from "./context.js";

interface ReportOpts {
  arch?: string;
  manifest: string[];
  diff?: string;
  bump?: string;
  out: string;
}

export function registerReportCommand(prog: Command, ctx: Context): void {
  prog
    .command("report [target]")
    .description("write a self-contained HTML report of a build: timelines, warnings, config audit and diff, sizes, boots, a bump")
    .option("--arch <arch>", "the cell's arch (default: the target's first); the other arches' boots join the page")
    .option("--manifest <file>", "read this manifest instead of the cell's latest (repeat it: later ones add their boot records)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--diff <config>", "show the config diff from this config (a .config file, release:<release>, or <target>[/<arch>]) to the build's")
    .option("--bump <file>", "add a version bump section: the report.json kiln bump wrote (bump-report/report.json), or a bump view (docs/report.md)")
    .option("--out <file>", "where to write the page", "report.html")
    .action(async (target: string | undefined, o: ReportOpts) => {
      const [{ gatherReport }, { renderReport }, { writeFileAtomic }, { KILN_VERSION }, { readManifest }] = await Promise.all([
        import("../report/gather.js"),
        import("../report/render.js"),
        import("../effects/fsx.js"),
        import("../version.js"),
        import("../store/store.js"),
      ]);
      const p = await ctx.paths();
      let manifestFile: string;
      let siblings: string[] = [];
      if (o.manifest.length) {
        [manifestFile, ...siblings] = o.manifest.map((f) => resolve(f)) as [string, ...string[]];
        for (const f of o.manifest) if (!existsSync(f)) throw new ProjectError(`no manifest at ${f}`, { file: f }, "pass a manifest.json kiln wrote (a cell's state/ or a store entry)");
      } else {
        const [{ pickCell, cellWarmTree }] = await Promise.all([import("../pipeline/cells.js")]);
        const project = await ctx.project();
        const cell = pickCell(project, target, o.arch);
        manifestFile = join(cellWarmTree(project, cell, p).state, "manifest.json");
        if (!existsSync(manifestFile)) throw new ProjectError(`no build of ${cell.target}/${cell.arch} yet: ${manifestFile} does not exist`, { file: project.file }, `build first: kiln build ${cell.target} --arch ${cell.arch}`);
        siblings = project.targets[cell.target]!.arches
          .filter((a) => a !== cell.arch)
          .map((a) => join(cellWarmTree(project, { target: cell.target, arch: a }, p).state, "manifest.json"))
          .filter((f) => existsSync(f));
      }
      const build = readManifest(manifestFile);
      let configDiff;
      if (o.diff) {
        const mine = build.artifacts?.config;
        if (!build.uts_release || !mine || !existsSync(mine)) throw new ProjectError("the build has no installed config to compare", { file: manifestFile }, "build it first: kiln build");
        const { configDiff: diffOf, parseConfigRef } = await import("../config/diff.js");
        const project = await ctx.maybeProject();
        const tree = build.build_dir ? join(build.build_dir, "..", "src") : undefined;
        const r = await diffOf(parseConfigRef(o.diff, project, p), { kind: "file", path: mine }, {
          ui: ctx.stderrUi,
          paths: p,
          ...(project ? { project } : {}),
          ...(tree && existsSync(join(tree, "Kconfig")) ? { tree } : {}),
          arch: build.arch,
        });
        configDiff = { from: r.a.label, to: build.uts_release, counts: r.counts, groups: r.groups, menus: "tree" in r.menus ? `${r.menus.tree} (${r.menus.arch})` : r.menus.none };
      }
      let bump;
      if (o.bump) {
        if (!existsSync(o.bump)) throw new ProjectError(`no bump report at ${o.bump}`, { file: o.bump }, "pass the report.json of a bump (kiln bump writes bump-report/report.json) or a bump view (docs/report.md)");
        bump = (await import("../report/bump.js")).readBumpFile(readFileSync(o.bump, "utf8"), { file: o.bump });
      }
      const data = gatherReport({ manifestFile, siblings, kilnVersion: KILN_VERSION, ...(configDiff ? { configDiff } : {}), ...(bump ? { bump } : {}) });
      const html = renderReport(data);
      const out = resolve(o.out);
      writeFileAtomic(out, html);
      const sections = (/data-kiln-sections="([^"]*)"/.exec(html)?.[1] ?? "").split(" ");
      if (ctx.globals.json) ctx.printJson({ out, release: build.uts_release ?? null, sections, bytes: Buffer.byteLength(html) });
      else ctx.ui.step("report", `${out} (${sections.length} sections, ${Math.round(Buffer.byteLength(html) / 1024)} KiB) for ${build.uts_release ?? `${build.target}/${build.arch}`}`);
    });
}
