/**
 * kiln's command line. Exit codes: 0 ok, 2 the kernel build or a gate failed,
 * 1 kiln itself or the infrastructure failed. User errors print a clear message, no stack trace.
 */
import { Command, Option, CommanderError } from "commander";
import { existsSync, readFileSync, cpSync, mkdirSync, readdirSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { KilnError, ProjectError, GateFailure, HostError } from "./errors.js";
import { openProject, seriesFor, type Project } from "./project/load.js";
import { ARCHES } from "./tables/arches.js";
import { HOST_TOOLS, HOST_HEADERS } from "./tables/host.js";
import { paths as kilnPaths, projectId, warmTree } from "./store/paths.js";
import { listEntries, planGc, staleTmp } from "./store/store.js";
import { resolveSources } from "./pipeline/sources.js";
import { discardAdoptables } from "./pipeline/prepare_source.js";
import { buildCell, type CellResult } from "./pipeline/build.js";
import { readSeries, applySeries } from "./pipeline/apply_patches.js";
import { GitStore } from "./effects/git.js";
import { run, which } from "./effects/proc.js";
import { makeUi, fmtBytes, type Ui } from "./ui/log.js";
import { KILN_VERSION } from "./version.js";
import { manifestJsonSchema } from "./core/manifest.js";
import { registerConfigCommands } from "./commands/config.js";
import { registerBootCommands, registerBootGate } from "./commands/boot.js";
import { registerShipCommands } from "./commands/ship.js";
import { produceOutputs } from "./pipeline/outputs.js";
import { rmSync } from "node:fs";

interface Globals {
  project?: string;
  json?: boolean;
  verbose?: boolean;
}

function selectCells(project: Project, targets: string[], arch?: string): { target: string; arch: string }[] {
  const names = targets.length ? targets : Object.keys(project.targets);
  const cells: { target: string; arch: string }[] = [];
  for (const t of names) {
    const decl = project.targets[t];
    if (!decl) throw new ProjectError(`no target "${t}" in kiln.toml`, { file: project.file }, `targets: ${Object.keys(project.targets).join(", ")}`);
    if (arch && !(arch in ARCHES)) throw new ProjectError(`unknown arch "${arch}"`, {}, `arches: ${Object.keys(ARCHES).join(", ")}`);
    if (arch && !decl.arches.includes(arch)) throw new ProjectError(`target "${t}" is not declared for ${arch}`, { file: project.file }, `its arches: ${decl.arches.join(", ")}`);
    for (const a of arch ? [arch] : decl.arches) cells.push({ target: t, arch: a });
  }
  return cells;
}


export function examplesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, "..", "..", "examples");
}

export function program(): Command {
  const prog = new Command("kiln")
    .description("Build Linux kernels from a pinned source to an identified, reproducible, reusable build.")
    .version(KILN_VERSION)
    .option("-C, --project <dir>", "the project folder (default: the nearest folder with kiln.toml)")
    .option("--json", "print machine-readable JSON on stdout")
    .option("-v, --verbose", "show more detail")
    .showHelpAfterError()
    .exitOverride();

  prog
    .command("init [dir]")
    .description("scaffold a kernel project from the bundled example (examples/microvm)")
    .option("--example <name>", "which bundled example", "microvm")
    .action((dir: string | undefined, o: { example: string }) => {
      const g = prog.opts<Globals>();
      const ui = makeUi(g);
      const src = join(examplesDir(), o.example);
      if (!existsSync(join(src, "kiln.toml"))) throw new ProjectError(`no bundled example "${o.example}"`, {}, `examples: ${readdirSync(examplesDir()).join(", ")}`);
      const dest = resolve(dir ?? ".");
      if (existsSync(join(dest, "kiln.toml"))) throw new ProjectError(`${dest} already has a kiln.toml`, { file: join(dest, "kiln.toml") }, "choose an empty folder");
      mkdirSync(dest, { recursive: true });
      cpSync(src, dest, { recursive: true, filter: (s) => !/kiln\.lock$/.test(s) });
      ui.info(`created ${dest} from the ${o.example} example; build it with: kiln -C ${dest} build`);
    });

  prog
    .command("build [targets...]")
    .description("build targets (default: all) into the store, reusing a build with the same identity")
    .option("--arch <arch>", `build only this arch (${Object.keys(ARCHES).join(", ")})`)
    .option("-j, --jobs <n>", "parallel make jobs (default: the CPU count)", (v) => parseIntOpt(v, "--jobs"))
    .option("--locked", "refuse to build when kiln.toml and kiln.lock disagree (CI, releases)")
    .option("--no-reuse", "compile even when the identity is already in the store")
    .option("--no-ccache", "do not use ccache")
    .option("--wipe", "remove the warm build folder first (a clean build)")
    .option("--label <label>", "the readable label baked into the release (default: inferred)")
    .option("--report-only", "report config audit findings without failing (invariants still fail)")
    .action(async (targets: string[], o: BuildCliOptions) => {
      const g = prog.opts<Globals>();
      const { results } = await buildSelected(prog, targets, o);
      if (g.json) process.stdout.write(JSON.stringify(results.map((r) => r.manifest), null, 2) + "\n");
    });

  prog
    .command("lock")
    .description("resolve the source pins and write kiln.lock")
    .option("--update [sources...]", "re-resolve these pins (default with --update: all)")
    .action(async (o: { update?: string[] | boolean }) => {
      const g = prog.opts<Globals>();
      const ui = makeUi(g);
      const project = openProject(g.project);
      const names = Object.keys(project.pins);
      const update = o.update === true ? names : Array.isArray(o.update) ? o.update : [];
      for (const u of update) if (!names.includes(u)) throw new ProjectError(`no source "${u}" in kiln.toml`, { file: project.file }, `sources: ${names.join(", ")}`);
      try {
        const res = await resolveSources(project, names, { paths: kilnPaths(), ui, update });
        if (g.json) process.stdout.write(JSON.stringify(res, null, 2) + "\n");
        else for (const [n, e] of Object.entries(res)) ui.info(`${n}: ${e.kind} ${e.version ?? e.commit ?? e.url ?? ""} tree ${e.tree.slice(0, 12)} (${e.kernel_version})`);
      } finally {
        discardAdoptables();
      }
    });

  const check = prog.command("check").description("run one gate alone");
  check
    .command("patches [targets...]")
    .description("the patch gate: the series applies at -p1 with zero fuzz and zero offset")
    .action(async (targets: string[]) => {
      const g = prog.opts<Globals>();
      const ui = makeUi(g);
      const project = openProject(g.project);
      const p = kilnPaths();
      const names = targets.length ? targets : Object.keys(project.targets);
      for (const t of names) if (!project.targets[t]) throw new ProjectError(`no target "${t}" in kiln.toml`, { file: project.file });
      const git = new GitStore(p.git);
      await git.init();
      try {
        const sources = await resolveSources(project, [...new Set(names.map((t) => project.targets[t]!.source))], { paths: p, ui });
        const report: { target: string; patches: number; tree: string }[] = [];
        for (const t of names) {
          const decl = project.targets[t]!;
          const series = readSeries(project.dir, seriesFor(project, decl));
          const res = await applySeries(git, sources[decl.source]!.tree, series, p.git);
          report.push({ target: t, patches: series.patches.length, tree: res.tree });
          ui.step("patches", `${t}: ${series.patches.length} patch(es) apply clean -> tree ${res.tree.slice(0, 12)}`);
        }
        if (g.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
      } finally {
        discardAdoptables();
      }
    });

  check
    .command("configured [targets...]")
    .description("the config gate: configure every cell, audit it and check the invariants; exit 2 on any finding or violation")
    .option("--arch <arch>", "only this arch")
    .option("--report-only", "report audit findings without failing (invariants still fail)")
    .action(async (targets: string[], o: { arch?: string; reportOnly?: boolean }) => {
      await configuredGate(prog, targets, o);
    });

  prog
    .command("manifest [target]")
    .description("print the manifest of a target's latest build (or of a store entry by release)")
    .option("--arch <arch>", "the arch (default: the target's first)")
    .option("--release <release>", "print the manifest of this store entry")
    .option("--schema", "print the manifest's JSON Schema")
    .action((target: string | undefined, o: { arch?: string; release?: string; schema?: boolean }) => {
      const g = prog.opts<Globals>();
      if (o.schema) {
        process.stdout.write(JSON.stringify(manifestJsonSchema(), null, 2) + "\n");
        return;
      }
      const p = kilnPaths();
      let file: string;
      if (o.release) file = join(p.store, o.release, "manifest.json");
      else {
        const project = openProject(g.project);
        const t = target ?? Object.keys(project.targets)[0]!;
        const decl = project.targets[t];
        if (!decl) throw new ProjectError(`no target "${t}" in kiln.toml`, { file: project.file });
        const arch = o.arch ?? decl.arches[0]!;
        file = join(warmTree(p, projectId(project.decl.name, project.dir), t, arch).state, "manifest.json");
      }
      if (!existsSync(file)) throw new ProjectError(`no manifest at ${file}`, {}, "build first: kiln build");
      process.stdout.write(readFileSync(file, "utf8"));
    });

  prog
    .command("doctor")
    .description("check the host tools and Debian packages kiln needs")
    .option("--install", "install what is missing with apt-get (sudo when not root)")
    .option("--arch <arches...>", "also check cross compilers and QEMU for these arches")
    .action(async (o: { install?: boolean; arch?: string[] }) => {
      const g = prog.opts<Globals>();
      const ui = makeUi(g);
      const arches = o.arch ?? [];
      const rows: { what: string; pkg: string; ok: boolean; optional: boolean; detail: string }[] = [];
      for (const t of HOST_TOOLS) {
        if (t.arch && !arches.includes(t.arch)) continue;
        const at = await which(t.cmd);
        rows.push({ what: t.cmd, pkg: t.pkg, ok: !!at, optional: !!t.optional && !t.arch, detail: at ?? t.why });
      }
      for (const h of HOST_HEADERS) rows.push({ what: h.header, pkg: h.pkg, ok: existsSync(h.header), optional: false, detail: h.why });
      const cc = await which("ccache");
      if (cc) {
        const v = /(\d+)\.(\d+)(?:\.(\d+))?/.exec((await run(["ccache", "--version"], { allowFail: true })).stdout);
        const ok = !!v && (Number(v[1]) > 4 || (Number(v[1]) === 4 && (Number(v[2]) > 7 || (Number(v[2]) === 7 && Number(v[3] ?? 0) >= 3))));
        if (!ok) rows.push({ what: "ccache >= 4.7.3", pkg: "ccache", ok: false, optional: true, detail: `found ${v?.[0]}; kiln builds without ccache` });
      }
      const missing = rows.filter((r) => !r.ok);
      const must = missing.filter((r) => !r.optional);
      if (g.json) process.stdout.write(JSON.stringify({ ok: must.length === 0, checks: rows }, null, 2) + "\n");
      else {
        for (const r of rows) ui.info(`${r.ok ? "ok     " : r.optional ? "missing" : "MISSING"} ${r.what.padEnd(28)} ${r.pkg.padEnd(24)} ${r.detail}`);
      }
      if (o.install && missing.length) {
        const pkgs = [...new Set(missing.map((r) => r.pkg))];
        const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
        ui.step("install", pkgs.join(" "));
        await run([...sudo, "apt-get", "update", "-q"], { env: { DEBIAN_FRONTEND: "noninteractive" } });
        await run([...sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", ...pkgs], { env: { DEBIAN_FRONTEND: "noninteractive" } });
        ui.info(`installed: ${pkgs.join(" ")}`);
        return;
      }
      if (must.length) throw new HostError(`missing host tools: ${must.map((r) => r.what).join(", ")}`, {}, "run `kiln doctor --install`");
    });

  const store = prog.command("store").description("the local store of finished builds");
  store
    .command("ls")
    .description("list store entries, most recently used first")
    .action(() => {
      const g = prog.opts<Globals>();
      const ui = makeUi(g);
      const entries = listEntries(kilnPaths());
      if (g.json) {
        process.stdout.write(JSON.stringify(entries.map((e) => ({ release: e.release, dir: e.dir, bytes: e.bytes, last_used: e.lastUsed.toISOString(), project: e.manifest?.project.name, target: e.manifest?.target, arch: e.manifest?.arch })), null, 2) + "\n");
        return;
      }
      if (!entries.length) ui.info("the store is empty");
      for (const e of entries) ui.info(`${e.release.padEnd(50)} ${(e.manifest ? `${e.manifest.project.name}/${e.manifest.target}/${e.manifest.arch}` : "?").padEnd(26)} ${fmtBytes(e.bytes).padStart(10)}  ${e.lastUsed.toISOString().slice(0, 16)}`);
    });
  store
    .command("gc")
    .description("remove store entries unused for a while, or beyond the newest N per target, and leftovers of killed builds")
    .option("--older-than <days>", "remove entries unused for more than this many days", (v) => parseIntOpt(v, "--older-than"), 30)
    .option("--keep <n>", "keep at most this many entries per (project, target, arch)", (v) => parseIntOpt(v, "--keep"))
    .option("--dry-run", "only say what would be removed")
    .action((o: { olderThan: number; keep?: number; dryRun?: boolean }) => {
      const g = prog.opts<Globals>();
      const ui = makeUi(g);
      const p = kilnPaths();
      const remove = planGc(listEntries(p), { maxAgeDays: o.olderThan, ...(o.keep !== undefined ? { keepLatest: o.keep } : {}) });
      const tmp = staleTmp(p);
      let freed = 0;
      for (const e of remove) {
        freed += e.bytes;
        if (!o.dryRun) rmSync(e.dir, { recursive: true, force: true });
        ui.info(`${o.dryRun ? "would remove" : "removed"} ${e.release}`);
      }
      for (const t of tmp) if (!o.dryRun) rmSync(t, { recursive: true, force: true });
      if (g.json) process.stdout.write(JSON.stringify({ removed: remove.map((e) => e.release), leftovers: tmp.length, bytes: freed }) + "\n");
      else ui.info(`${o.dryRun ? "would free" : "freed"} ${fmtBytes(freed)} (${remove.length} entries, ${tmp.length} leftovers)`);
    });

  const buildCells = async (targets: string[], arch?: string, stderr?: boolean) => (await buildSelected(prog, targets, { ...(arch ? { arch } : {}), ...(stderr ? { stderr } : {}) })).results;
  registerBootCommands(prog, { buildCells });
  registerBootGate(check, prog, { buildCells });
  registerShipCommands(prog);
  registerConfigCommands(prog, { openProject: () => openProject(prog.opts<Globals>().project), configureCells: (t, arch) => configureCells(prog, t, arch), configuredGate: (t, o) => configuredGate(prog, t, o) });
  return prog;
}

interface BuildCliOptions {
  arch?: string;
  jobs?: number;
  locked?: boolean;
  reuse?: boolean;
  ccache?: boolean;
  wipe?: boolean;
  label?: string;
  reportOnly?: boolean;
  /** Human lines on stderr (stdout carries something else). */
  stderr?: boolean;
}

/** Build (or reuse) every selected cell. */
async function buildSelected(prog: Command, targets: string[], o: BuildCliOptions): Promise<{ project: Project; results: CellResult[] }> {
  const g = prog.opts<Globals>();
  const ui = makeUi({ ...g, ...(o.stderr ? { stderr: true } : {}) });
  const project = openProject(g.project);
  const cells = selectCells(project, targets, o.arch);
  const p = kilnPaths();
  const srcNames = [...new Set(cells.map((c) => project.targets[c.target]!.source))];
  const results: CellResult[] = [];
  try {
    const sources = await resolveSources(project, srcNames, { locked: !!o.locked, paths: p, ui });
    for (const c of cells) {
      const src = sources[project.targets[c.target]!.source]!;
      results.push(
        await buildCell(project, c.target, c.arch, src, {
          ui, paths: p, reuse: o.reuse !== false, ccache: o.ccache !== false, wipe: !!o.wipe, reportOnly: !!o.reportOnly,
          ...(o.jobs ? { jobs: o.jobs } : {}), ...(o.label !== undefined ? { label: o.label } : {}),
        }),
      );
      await produceOutputs(project, c.target, c.arch, results.at(-1)!.manifest, { paths: p, ui });
    }
  } finally {
    discardAdoptables();
  }
  return { project, results };
}

/** Configure (and audit) every selected cell without compiling. */
async function configureCells(prog: Command, targets: string[], arch?: string): Promise<{ project: Project; results: CellResult[] }> {
  const g = prog.opts<Globals>();
  const ui = makeUi(g);
  const project = openProject(g.project);
  const cells = selectCells(project, targets, arch);
  const p = kilnPaths();
  const out: CellResult[] = [];
  try {
    const sources = await resolveSources(project, [...new Set(cells.map((c) => project.targets[c.target]!.source))], { paths: p, ui });
    for (const c of cells) out.push(await buildCell(project, c.target, c.arch, sources[project.targets[c.target]!.source]!, { ui, paths: p, configureOnly: true }));
  } finally {
    discardAdoptables();
  }
  return { project, results: out };
}

/** `kiln check configured` and `kiln config audit`: list every finding and violation, then fail. */
export async function configuredGate(prog: Command, targets: string[], o: { arch?: string; reportOnly?: boolean }): Promise<void> {
  const g = prog.opts<Globals>();
  const ui = makeUi(g);
  const { results } = await configureCells(prog, targets, o.arch);
  if (g.json) process.stdout.write(JSON.stringify(results.map((r) => ({ target: r.manifest.target, arch: r.manifest.arch, uts_release: r.manifest.uts_release, config: r.manifest.config })), null, 2) + "\n");
  const fatal = results.flatMap((r) => (r.manifest.config?.findings ?? []).filter((f) => !f.allowed).map((f) => ({ r, f })));
  const broken = results.filter((r) => (r.manifest.config?.invariants?.length ?? 0) > 0);
  const problems: string[] = [];
  if (broken.length) problems.push(`invariants violated: ${broken.map((r) => `${r.manifest.arch}/${r.manifest.target}: ${r.manifest.config!.invariants!.length}`).join(", ")}`);
  if (fatal.length && !o.reportOnly) problems.push(`${fatal.length} audit finding(s)`);
  if (problems.length) throw new GateFailure(`the config gate failed: ${problems.join("; ")}`, {}, "every finding and violation is listed above; opt a line out with \"# kiln-allow: <reason>\" or pass --report-only for audit findings");
  ui.step("configured", `${results.length} cell(s): ${fatal.length ? `${fatal.length} finding(s) reported` : "every requested value survived"}, invariants hold`);
}

function parseIntOpt(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new KilnError(`${name} expects a whole number, got "${v}"`);
  return n;
}

export async function main(argv: string[]): Promise<void> {
  const prog = program();
  try {
    await prog.parseAsync(argv);
    // a command may have set its own exit status (run --exec passes the guest's through)
    process.exitCode ??= 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 1;
      return;
    }
    const ui = makeUi({});
    if (e instanceof KilnError) {
      ui.error(e.render());
      process.exitCode = e.exitCode;
    } else {
      ui.error(`internal error: ${(e as Error).stack ?? e}`);
      process.exitCode = 1;
    }
  }
}


