/**
 * `kiln config …`: the config-truth commands. audit and explain here; the version-bump, export,
 * diff and ARK tools join them from src/config/.
 */
import type { Command } from "commander";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import type { Project } from "../project/load.js";
import type { CellResult } from "../pipeline/build.js";
import { kconfigView } from "../pipeline/audit.js";
import { explain } from "../kconfig/index.js";
import { ProjectError } from "../errors.js";
import { makeUi } from "../ui/log.js";

export interface ConfigDeps {
  openProject(): Project;
  configureCells(targets: string[], arch?: string): Promise<{ project: Project; results: CellResult[] }>;
  configuredGate(targets: string[], o: { arch?: string; reportOnly?: boolean }): Promise<void>;
}

interface Globals {
  json?: boolean;
  verbose?: boolean;
}

export function registerConfigCommands(prog: Command, deps: ConfigDeps): Command {
  const config = prog.command("config").description("config truth: audit, explain, and the tools around layers");

  config
    .command("audit [targets...]")
    .description("configure and audit without compiling: mismatch, unknown, redefined, malformed; exit 2 on a finding")
    .option("--arch <arch>", "only this arch")
    .option("--report-only", "report findings without failing")
    .action(async (targets: string[], o: { arch?: string; reportOnly?: boolean }) => {
      await deps.configuredGate(targets, o);
    });

  config
    .command("explain <symbol>")
    .description("say why a symbol has its value in a target's configured tree")
    .option("--target <target>", "the target (default: the first)")
    .option("--arch <arch>", "the arch (default: the target's first)")
    .action(async (symbol: string, o: { target?: string; arch?: string }) => {
      const g = prog.opts<Globals>();
      const ui = makeUi(g);
      const project = deps.openProject();
      const target = o.target ?? Object.keys(project.targets)[0]!;
      const decl = project.targets[target];
      if (!decl) throw new ProjectError(`no target "${target}" in kiln.toml`, { file: project.file });
      const arch = o.arch ?? decl.arches[0]!;
      const { results } = await deps.configureCells([target], arch);
      const m = results[0]!.manifest;
      const build = m.build_dir!;
      const src = join(build, "..", "src");
      const view = kconfigView(src, arch, readFileSync(join(build, ".config"), "utf8"));
      const name = symbol.replace(/^CONFIG_/, "");
      const x = explain(view.ev, name);
      if (g.json) {
        process.stdout.write(JSON.stringify(x, null, 2) + "\n");
        return;
      }
      ui.info(x.text);
      if (x.menuPath.length) ui.info(`  menu: ${x.menuPath.join(" > ")}`);
      for (const d of x.details) ui.info(`  ${d}`);
      for (const a of x.actions) ui.info(`  to change it: ${a}`);
      for (const l of x.locations) ui.info(`  defined at ${l.file}:${l.line}`);
    });

  return config;
}
