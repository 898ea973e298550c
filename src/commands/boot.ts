/**
 * `kiln boot`, `kiln run`, `kiln check boots`: every build proves it boots and is the build it
 * claims to be. Each command builds the cell first (a reuse when nothing changed), then boots the
 * store entry's image with kiln's own initramfs (src/boot).
 */
import type { Command } from "commander";
import { dirname, join } from "node:path";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import type { CellResult } from "../pipeline/build.js";
import type { SmokeResult } from "../boot/index.js";
import { parseCpusOption, parseMemoryOption } from "../boot/qemu.js";
import { ARCHES } from "../tables/arches.js";
import { BuildFailure, KilnError, ProjectError } from "../errors.js";
import { fmtDuration, type Ui } from "../ui/log.js";
import type { Manifest } from "../core/manifest.js";
import type { Context } from "./context.js";
import { buildSelected } from "./build.js";

/** The boot library, loaded when a boot command runs. */
const boot = () => import("../boot/index.js");
export const bootCache = async (ctx: Context) => join((await ctx.paths()).home, "boot");

async function buildCells(ctx: Context, targets: string[], arch?: string, stderr?: boolean): Promise<CellResult[]> {
  // boot builds the guest init from the tree's own nolibc: the warm tree must be there
  return buildSelected(ctx, targets, { ...(arch ? { arch } : {}), ...(stderr ? { stderr } : {}), tree: true });
}

/**
 * boot and check boots: the cells built or reused without checking the warm tree out; the tree
 * is asked for (a second, reusing pass) only when a cell's guest init is not in the cache yet,
 * since the init is built from the tree's nolibc and cached by the tree's content (ADR 0093).
 */
async function bootableCells(ctx: Context, targets: string[], arch?: string): Promise<CellResult[]> {
  const first = await buildSelected(ctx, targets, { ...(arch ? { arch } : {}) });
  const b = await boot();
  const cacheDir = await bootCache(ctx);
  for (const r of first) {
    const m = r.manifest;
    if (r.results.worktree) continue; // checked out in this run (it compiled): the tree is this content
    const spec = ARCHES[m.arch];
    if (!spec || !m.source_tree || !(await b.initCached({ arch: spec, cacheDir, toolchain: await toolchainFor(m), treeKey: m.source_tree }))) return buildCells(ctx, targets, arch);
  }
  return first;
}

export interface Cell {
  manifest: Manifest;
  manifestPath: string;
  arch: string;
  image: string;
  src: string;
  state: string;
  /** The store entry's module tree, when the build has modules: kiln's initramfs carries it. */
  modules?: { dir: string; release: string };
}

export function cellOf(r: CellResult): Cell {
  const m = r.manifest;
  if (!m.artifacts || !m.uts_release) throw new BuildFailure(`no built image for ${m.target}/${m.arch}`);
  // the warm tree's folders (state/ holds the manifest; src/ is there when it was checked out)
  const state = dirname(r.manifestPath);
  const modules = m.artifacts.modules && existsSync(m.artifacts.modules) ? { dir: m.artifacts.modules, release: m.uts_release } : undefined;
  return { manifest: m, manifestPath: r.manifestPath, arch: m.arch, image: m.artifacts.image, src: join(state, "..", "src"), state, ...(modules ? { modules } : {}) };
}

export async function toolchainFor(m: Manifest) {
  const spec = ARCHES[m.arch]!;
  return (await boot()).defaultInitToolchain(spec, { llvm: m.inputs.toolchain === "clang" });
}

export async function initramfsFor(ctx: Context, c: Cell): Promise<string> {
  const cacheDir = await bootCache(ctx);
  const out = join(c.state, "smoke-initramfs.cpio");
  const rd = await (await boot()).writeSmokeInitramfs({ tree: c.src, arch: c.arch, cacheDir, out, toolchain: await toolchainFor(c.manifest), treeKey: c.manifest.source_tree, ...(c.modules ? { modules: c.modules } : {}) });
  return rd.path;
}

/** Record the smoke in the cell's manifest: time to banner, to init, total, the console log. */
export async function recordBoot(c: Cell, results: SmokeResult[]): Promise<void> {
  const [{ readManifest }, { writeFileAtomic }] = await Promise.all([import("../store/store.js"), import("../effects/fsx.js")]);
  const m = readManifest(c.manifestPath);
  m.boot = results.map((r) => ({
    ok: r.ok,
    accel: r.accel,
    memory_mib: r.memoryMiB,
    release: r.release ?? "",
    stage: r.stage,
    ...(r.timings.bannerSec !== undefined ? { banner_sec: r.timings.bannerSec } : {}),
    ...(r.timings.initSec !== undefined ? { init_sec: r.timings.initSec } : {}),
    ...(r.timings.markerSec !== undefined ? { marker_sec: r.timings.markerSec } : {}),
    total_sec: r.timings.totalSec,
    console_log: r.consoleLog,
    ...(r.reason ? { reason: r.reason } : {}),
  }));
  writeFileAtomic(c.manifestPath, JSON.stringify(m, null, 2) + "\n");
}

function say(ui: Ui, r: SmokeResult): void {
  const t = r.timings;
  ui.step("boot", `${r.arch} ${r.memoryMiB} MiB (${r.accel}): ${r.ok ? `${r.release} booted` : `FAILED at ${r.stage}`} — banner ${t.bannerSec?.toFixed(2) ?? "-"}s, init ${t.initSec?.toFixed(2) ?? "-"}s, total ${fmtDuration(t.totalSec * 1000)}`);
}

export function registerBootCommands(prog: Command, ctx: Context): void {
  prog
    .command("boot [targets...]")
    .description("build (or reuse), then boot each cell under QEMU and check that uname -r is its identity")
    .option("--arch <arch>", "only this arch")
    .option("--memory <mib>", "guest memory in MiB (at least 64)", (v) => parseMemoryOption(v), 512)
    .option("--accel <accel>", "auto, kvm or tcg", "auto")
    .option("--timeout <sec>", "give up after this many seconds", (v) => Number(v))
    .option("--image <name|file>", "boot a disk image instead of the bare kernel: firmware -> GRUB or U-Boot -> the slot's kernel (an [image.<name>], made when missing, or an .img file)")
    .action(async (targets: string[], o: { arch?: string; memory: number; accel: "auto" | "kvm" | "tcg"; timeout?: number; image?: string }) => {
      const ui = ctx.ui;
      if (o.image !== undefined) {
        const { bootImageCommand } = await import("./image.js");
        await bootImageCommand(ctx, o.image, o);
        return;
      }
      const { runSmoke } = await boot();
      const results: SmokeResult[] = [];
      for (const r of await bootableCells(ctx, targets, o.arch)) {
        const c = cellOf(r);
        const initramfs = await initramfsFor(ctx, c);
        const s = await runSmoke({
          arch: c.arch, kernel: c.image, initramfs, expectedRelease: c.manifest.uts_release!, consoleLog: join(c.state, `boot-${c.arch}-${o.memory}M.log`),
          memoryMiB: o.memory, accel: o.accel, cacheDir: await bootCache(ctx), notify: (m) => ui.info(m), ...(o.timeout ? { timeoutSec: o.timeout } : {}),
        });
        await recordBoot(c, [s]);
        say(ui, s);
        results.push(s);
      }
      if (ctx.globals.json) ctx.printJson(results);
      const bad = results.filter((r) => !r.ok);
      if (bad.length) throw new KilnBootFailure(bad);
    });

  prog
    .command("run [target]")
    .description("open a guest console for a person, or run one command in the guest with --exec")
    .option("--arch <arch>", "the arch (default: the target's first)")
    .option("--initrd <file>", "your own initramfs instead of kiln's")
    .option("--rootfs <image>", "a disk image attached as virtio block (root=/dev/vda)")
    .option("--append <args>", "extra kernel command line")
    .option("--memory <mib>", "guest memory in MiB (at least 64)", (v) => parseMemoryOption(v), 512)
    .option("--cpus <n>", "guest CPUs", (v) => parseCpusOption(v), 1)
    .option("--qemu-arg <arg>", "extra QEMU argument (repeatable)", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--accel <accel>", "auto, kvm or tcg", "auto")
    .option("--exec <command>", "run this command in the guest, print its output, exit with its status")
    .option("--timeout <sec>", "with --exec: give up after this many seconds", (v) => Number(v))
    .option("--gdb", "start the guest stopped with QEMU's gdb stub on a free loopback port and print the gdb command line")
    .option("--module <file.ko>", "an out-of-tree module for the guest, beside the build's own under extra/ (repeatable): checked against the release, indexed by depmod, loaded with modprobe", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action(async (target: string | undefined, o: { arch?: string; initrd?: string; rootfs?: string; append?: string; memory: number; cpus: number; qemuArg: string[]; accel: "auto" | "kvm" | "tcg"; exec?: string; timeout?: number; gdb?: boolean; module: string[] }) => {
      if (o.gdb && o.exec !== undefined) throw new ProjectError("--gdb and --exec do not go together", { symbol: "--gdb" }, "--gdb opens the guest console for a person with gdb attached; drop one of them");
      if (o.module.length && o.initrd) throw new ProjectError("--module and --initrd do not go together", { symbol: "--module" }, "--module adds to kiln's initramfs; put the module into your own initramfs instead");
      if (o.module.length && o.rootfs && o.exec === undefined) throw new ProjectError("--module needs kiln's initramfs, and a console with --rootfs boots your disk image instead", { symbol: "--module" }, "put the module into the disk image, or use --exec, which boots kiln's initramfs with the disk attached");
      if (o.module.length) (await import("../boot/extra_modules.js")).precheckExtraModules(o.module);
      const ui = o.exec !== undefined ? ctx.stderrUi : ctx.ui;
      const { runExec, runInteractive } = await boot();
      const built = await buildCells(ctx, target ? [target] : [], o.arch, o.exec !== undefined);
      const c = cellOf(built[0]!);
      const work = join(c.state, "run");
      mkdirSync(work, { recursive: true });
      let modules = c.modules;
      if (o.module.length) {
        if (!modules) throw new ProjectError(`--module: ${c.manifest.target}/${c.arch} has no loadable modules (CONFIG_MODULES is not set), so its kernel cannot load one`, { symbol: "CONFIG_MODULES" }, "boot a target whose config sets CONFIG_MODULES=y (the example's: kiln run modular)");
        const { stageExtraModules } = await import("../boot/extra_modules.js");
        modules = await stageExtraModules({ tree: modules, files: o.module, workDir: work });
        ui.info(`guest modules: ${o.module.length} out-of-tree module(s) under lib/modules/${modules.release}/extra, indexed by depmod`);
      }
      const ro = {
        arch: c.arch, kernel: c.image, tree: c.src, cacheDir: await bootCache(ctx), workDir: work, memoryMiB: o.memory, cpus: o.cpus, qemuArgs: o.qemuArg, accel: o.accel,
        toolchain: await toolchainFor(c.manifest), notify: (m: string) => ui.info(m), ...(modules ? { modules } : {}),
        ...(o.initrd ? { initrd: o.initrd } : {}), ...(o.rootfs ? { rootfs: o.rootfs } : {}), ...(o.append ? { append: o.append } : {}),
      };
      if (o.gdb) {
        const [lib, { freeLoopbackPort }, { quoteArgv }] = await Promise.all([import("../devel/index.js"), import("../effects/port.js"), import("../core/shell.js")]);
        const p = await ctx.paths();
        // the helpers come from the devel layer; a build whose warm tree is elsewhere still gets gdb
        const d = await lib.ensureDevel(await ctx.project(), c.manifest.target, c.manifest, p, (m) => ui.info(m)).catch((e: unknown) => {
          if (!(e instanceof lib.DevelNotInWarmTree)) throw e;
          ui.warn(e.render());
          return undefined;
        });
        const port = await freeLoopbackPort();
        const { manifestEntry } = await import("../pipeline/outputs.js");
        const vmlinux = lib.vmlinuxFor(c.manifest, d?.entry ?? manifestEntry(c.manifest, p));
        const line = lib.gdbCommandLine({ arch: c.arch, vmlinux, ...(d ? { scriptsDir: join(d.dir, "build") } : {}), port, debugInfo: lib.hasDebugInfo(readFileSync(vmlinux)) });
        if (line.note) ui.info(line.note);
        const say = () => {
          ui.step("gdb", `QEMU waits for gdb on 127.0.0.1:${port}; attach with (${line.gdbPackage}):`);
          process.stdout.write(`gdb: ${quoteArgv(line.argv)}\n`);
        };
        process.exitCode = await runInteractive({ ...ro, gdbPort: port, onGdbReady: say });
        return;
      }
      if (o.exec !== undefined) {
        const r = await runExec({ ...ro, command: o.exec, consoleLog: join(c.state, "run-exec.log"), ...(o.timeout ? { timeoutSec: o.timeout } : {}) });
        if (ctx.globals.json) ctx.printJson(r);
        else process.stdout.write(r.output);
        process.exitCode = r.exitCode;
        return;
      }
      process.exitCode = await runInteractive(ro);
    });
}

export function registerBootGate(check: Command, ctx: Context): void {
  check
    .command("boots [targets...]")
    .description("the boot gate: boot every cell at 512 MiB and 2 GiB; exit 2 on any failure")
    .option("--arch <arch>", "only this arch")
    .option("--accel <accel>", "auto, kvm or tcg", "auto")
    .action(async (targets: string[], o: { arch?: string; accel: "auto" | "kvm" | "tcg" }) => {
      const ui = ctx.ui;
      const { checkBoots } = await boot();
      const all: SmokeResult[] = [];
      const failures: string[] = [];
      for (const r of await bootableCells(ctx, targets, o.arch)) {
        const c = cellOf(r);
        const initramfs = await initramfsFor(ctx, c);
        try {
          const res = await checkBoots({ arch: c.arch, kernel: c.image, initramfs, expectedRelease: c.manifest.uts_release!, consoleLogDir: c.state, accel: o.accel, cacheDir: await bootCache(ctx), notify: (m) => ui.info(m) });
          res.forEach((x) => say(ui, x));
          await recordBoot(c, res);
          all.push(...res);
        } catch (e) {
          if (!(e instanceof KilnError)) throw e;
          ui.error(e.render());
          failures.push(`${c.manifest.target}/${c.arch}`);
        }
      }
      if (ctx.globals.json) ctx.printJson(all);
      if (failures.length) throw new KilnBootFailure([], failures);
      ui.step("boots", `${all.length} boot(s) passed`);
    });
}

class KilnBootFailure extends BuildFailure {
  constructor(bad: SmokeResult[], cells: string[] = []) {
    super(
      bad.length
        ? `boot failed:\n${bad.map((r) => r.diagnosis ?? r.reason ?? "").join("\n\n")}`
        : `the boot gate failed for ${cells.join(", ")}`,
      bad[0] ? { file: bad[0].consoleLog } : {},
      bad[0] ? `the full console log is ${bad[0].consoleLog}` : undefined,
    );
  }
}
