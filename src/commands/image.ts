/**
 * `kiln image [name]`, `kiln image inspect <file>`, `kiln image update <image>` and
 * `kiln boot --image`: bootable A/B disk images made from a target's kernel (built, or reused
 * from the store), inspected, updated slot by slot and booted through their own firmware and
 * bootloader. See docs/images.md.
 */
import type { Command } from "commander";
import { existsSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { BuildFailure, GateFailure, ProjectError } from "../errors.js";
import { fmtBytes, fmtDuration } from "../ui/log.js";
import type { Context } from "./context.js";
import { buildSelected } from "./build.js";
import { cellOf, initramfsFor } from "./boot.js";
import type { Project } from "../project/load.js";
import type { ImageCell } from "../image/project.js";
import type { Slot } from "../image/layout.js";

const lib = async () => {
  const [project, make, inspect, update, boot, layout] = await Promise.all([
    import("../image/project.js"), import("../image/make.js"), import("../image/inspect.js"), import("../image/update.js"), import("../image/boot.js"), import("../image/layout.js"),
  ]);
  return { ...project, ...make, ...inspect, ...update, ...boot, ...layout };
};

/** Where the raw disk of an image lives: the one kiln boot --image boots and update changes. */
export function diskPath(project: Project, name: string, arch: string): string {
  return join(project.dir, "out", "disks", `${name}-${arch}.img`);
}

export interface MadeImageReport {
  name: string;
  arch: string;
  release: string;
  disk: string;
  image: string;
  sha256: string;
  bytes: number;
  phases: Record<string, number>;
}

/** Builds (or reuses) the kernel of each cell, then lays the image out. */
async function makeCells(ctx: Context, cells: ImageCell[]): Promise<MadeImageReport[]> {
  const L = await lib();
  const project = await ctx.project();
  const { outDir, manifestEntry } = await import("../pipeline/outputs.js");
  const { kernelCmdline } = await import("../boot/qemu.js");
  const { ARCHES } = await import("../tables/arches.js");
  const out: MadeImageReport[] = [];
  for (const cell of cells) {
    const kilnInit = cell.decl.initramfs === "kiln";
    const built = await buildSelected(ctx, [cell.target], { arch: cell.arch, tree: kilnInit, stderr: ctx.globals.json });
    const m = built[0]!.manifest;
    const release = m.uts_release;
    if (!release || !m.artifacts) throw new BuildFailure(`no built kernel for ${cell.target}/${cell.arch}`);
    // kiln's init is built from the warm tree's nolibc; a user's cpio needs no tree
    const initramfs = kilnInit ? await initramfsFor(ctx, cellOf(built[0]!)) : resolve(project.dir, cell.decl.initramfs);
    const kernel = existsSync(m.artifacts.image) ? m.artifacts.image : join(manifestEntry(m, await ctx.paths()), "boot", `vmlinuz-${release}`);
    const disk = diskPath(project, cell.name, cell.arch);
    const t0 = performance.now();
    const scratch = join(project.dir, "out", "disks", `.${cell.name}-${cell.arch}.scratch-${process.pid}`);
    const report = (made: { zst: string; sha256: string; phases: Record<string, number> }) => {
      const bytes = statSync(made.zst).size;
      ctx.ui.step("image", `${basename(made.zst)} (${fmtBytes(bytes)}, sha256 ${made.sha256.slice(0, 16)}…) in ${fmtDuration(performance.now() - t0)}; disk ${disk}`);
      out.push({ name: cell.name, arch: cell.arch, release, disk, image: made.zst, sha256: made.sha256, bytes, phases: made.phases });
    };
    if (cell.decl.layout === "rpi-ab") {
      // the board's device trees come from the build's dtbs_install folder in the store entry
      const dtbs = m.artifacts.dtbs ?? join(manifestEntry(m, await ctx.paths()), "boot", "dtbs", release);
      if (!existsSync(dtbs)) throw new BuildFailure(`the build of ${cell.target}/${cell.arch} installed no DTBs, and image "${cell.name}" (rpi-ab) needs the board's`, { file: dtbs }, "enable the board's platform (e.g. CONFIG_ARCH_BCM2835=y) so make builds its dtbs, then build again");
      const made = await L.makeRpiImage(
        {
          name: cell.name, arch: cell.arch, release, kernel, initramfs, dtbs,
          cmdline: kernelCmdline(ARCHES[cell.arch]!, { mode: kilnInit ? "smoke" : undefined, append: cell.decl.cmdline }),
          ...(cell.decl.firmware ? { firmware: resolve(project.dir, cell.decl.firmware) } : {}),
          ...(cell.decl.data ? { data: resolve(project.dir, cell.decl.data) } : {}),
          ...(cell.decl.dtbs ? { dtbList: cell.decl.dtbs } : {}),
          ...(cell.decl.board_dtb ? { boardDtb: cell.decl.board_dtb } : {}),
          bootMiB: cell.decl.boot_mib,
          sizes: { espMiB: cell.decl.esp_mib, systemMiB: cell.decl.system_mib, dataMiB: cell.decl.data_mib },
          timestamp: m.inputs.source.timestamp,
        },
        { outDir: outDir(project, release), disk, scratch },
      );
      report(made);
      continue;
    }
    const made = await L.makeImage(
      {
        name: cell.name, arch: cell.arch, release, kernel, initramfs,
        cmdline: kernelCmdline(ARCHES[cell.arch]!, { mode: kilnInit ? "smoke" : undefined, append: cell.decl.cmdline }),
        ...(cell.decl.rootfs ? { rootfs: resolve(project.dir, cell.decl.rootfs) } : {}),
        ...(cell.decl.data ? { data: resolve(project.dir, cell.decl.data) } : {}),
        sizes: { espMiB: cell.decl.esp_mib, systemMiB: cell.decl.system_mib, dataMiB: cell.decl.data_mib },
        timestamp: m.inputs.source.timestamp,
      },
      { outDir: outDir(project, release), disk, scratch },
    );
    report(made);
  }
  return out;
}

/** kiln boot --image <name|file>. */
export async function bootImageCommand(ctx: Context, image: string, o: { arch?: string; memory: number; accel: "auto" | "kvm" | "tcg"; timeout?: number }): Promise<void> {
  const L = await lib();
  const home = (await ctx.paths()).home;
  let disk: string;
  let arch = o.arch;
  if (existsSync(image) && statSync(image).isFile()) {
    disk = resolve(image);
    if (disk.endsWith(".zst")) throw new ProjectError(`${image} is compressed`, { file: image }, "boot the raw disk (out/disks/<name>-<arch>.img) or unpack it first: zstd -d --sparse");
  } else {
    const project = await ctx.project();
    const cells = L.selectImages(project, image, o.arch);
    const cell = cells[0]!;
    const { IMAGE_LAYOUT_SPECS } = await import("../tables/image_boot.js");
    const spec = IMAGE_LAYOUT_SPECS[cell.decl.layout];
    if (!spec.qemuBoots) throw new ProjectError(`kiln cannot boot image "${cell.name}" (${cell.decl.layout}): ${spec.qemuReason ?? "no QEMU machine runs it"}`, { file: project.file }, `boot its kernel under QEMU's virt machine with kiln boot ${cell.target} --arch ${cell.arch}; the disk itself boots on the board`);
    arch = cell.arch;
    disk = diskPath(project, cell.name, cell.arch);
    if (!existsSync(disk)) await makeCells(ctx, [cell]);
  }
  if (!arch) {
    const seen = await L.inspectDisk(disk);
    arch = seen.record?.arch;
    if (!arch) throw new GateFailure(`${disk} has no kiln/image.json saying its arch`, { file: disk }, "give --arch");
  }
  const r = await L.bootImage({
    disk, arch, consoleLog: join(disk.replace(/\.img$/, ""), "..", `${basename(disk, ".img")}-boot.log`), cacheDir: join(home, "boot"),
    accel: o.accel, memoryMiB: o.memory, notify: (m) => ctx.ui.info(m), ...(o.timeout ? { timeoutSec: o.timeout } : {}),
  });
  if (ctx.globals.json) ctx.printJson(r);
  if (!r.ok) throw new GateFailure(r.diagnosis ?? r.reason ?? "image boot failed", { file: r.consoleLog });
  ctx.ui.step("boot", `${basename(disk)} ${arch} (${r.accel}): slot ${r.slot} booted ${r.release} — firmware ${r.timings.firmwareSec?.toFixed(2) ?? "-"}s, banner ${r.timings.bannerSec?.toFixed(2) ?? "-"}s, marker ${r.timings.markerSec?.toFixed(2) ?? "-"}s`);
}

function parseSlot(v: string): Slot {
  const s = v.toUpperCase();
  if (s !== "A" && s !== "B") throw new ProjectError(`--slot must be A or B, got ${JSON.stringify(v)}`, { symbol: "--slot" });
  return s;
}

export function registerImageCommands(prog: Command, ctx: Context): void {
  const image = prog.command("image").description("bootable A/B disk images: make ([image.<name>] in kiln.toml), inspect, update a slot");
  image
    .command("make [name]", { isDefault: true })
    .description("build (or reuse) the kernel, then lay out the image: <name>-<release>-<arch>.img.zst + .sha256 in out/<release>/, the raw disk in out/disks/")
    .option("--arch <arch>", "only this arch")
    .action(async (name: string | undefined, o: { arch?: string }) => {
      const L = await lib();
      const cells = L.selectImages(await ctx.project(), name, o.arch);
      const made = await makeCells(ctx, cells);
      if (ctx.globals.json) ctx.printJson(made);
    });
  image
    .command("inspect <file>")
    .description("print the partition table, each filesystem's files and the boot configuration; exit 2 when something is wrong")
    .action(async (file: string) => {
      const L = await lib();
      if (!existsSync(file)) throw new ProjectError(`no file ${file}`, { file });
      const raw = await L.rawDisk(file, join((await ctx.paths()).home, "tmp", `inspect-${process.pid}`));
      try {
        const r = await L.inspectDisk(raw.disk, file);
        if (ctx.globals.json) ctx.printJson(r);
        else process.stdout.write(L.renderInspection(r) + "\n");
        if (r.problems.length) throw new GateFailure(`${file}: ${r.problems.length} problem(s): ${r.problems.join("; ")}`, { file }, "make the image again with kiln image, or fix what is named");
      } finally {
        raw.cleanup();
      }
    });
  image
    .command("update <image>")
    .description("write another build's kernel into a slot and arm a one-shot try of it (grubenv boot_once), without remaking the image")
    .requiredOption("--slot <A|B>", "the slot to write", parseSlot)
    .requiredOption("--release <release>", "the build (a release in the store) whose kernel goes in")
    .option("--append <args>", "kernel command line words added after the slot's current ones")
    .option("--cmdline <args>", "the slot's whole kernel command line (kiln.slot= is added)")
    .option("--initramfs <file>", "a new initramfs for the slot (default: keep the slot's, or copy the other slot's)")
    .option("--no-arm", "write the slot without arming a try")
    .action(async (file: string, o: { slot: Slot; release: string; append?: string; cmdline?: string; initramfs?: string; arm: boolean }) => {
      const L = await lib();
      const p = await ctx.paths();
      const { readEntryManifest, entryDir } = await import("../store/store.js");
      const m = readEntryManifest(p, o.release);
      if (!m) throw new ProjectError(`the store has no build ${o.release}`, { file: entryDir(p, o.release) }, "build it first (kiln build), or see kiln store ls");
      const raw = await L.rawDisk(file, join(p.home, "tmp", `update-read-${process.pid}`));
      let cmdline: string;
      try {
        const seen = await L.inspectDisk(raw.disk, file);
        const arch = seen.record?.arch;
        if (arch && arch !== m.arch) throw new ProjectError(`${o.release} is a ${m.arch} build; ${file} is a ${arch} image`, { file }, "give a release built for the image's arch");
        const current = seen.slots[o.slot]?.cmdline ?? seen.slots[o.slot === "A" ? "B" : "A"]?.cmdline ?? "";
        const base = (o.cmdline ?? current).split(/\s+/).filter((w) => w && !/^kiln\.slot=/.test(w));
        cmdline = [...base, ...(o.append ?? "").split(/\s+/).filter(Boolean)].join(" ");
      } finally {
        raw.cleanup();
      }
      const kernel = join(entryDir(p, o.release), "boot", `vmlinuz-${o.release}`);
      if (!existsSync(kernel)) throw new ProjectError(`the store entry of ${o.release} has no boot/vmlinuz-${o.release}`, { file: kernel }, "build it again: kiln build");
      const r = await L.updateImage({ image: resolve(file), slot: o.slot, release: o.release, kernel, cmdline, ...(o.initramfs ? { initramfs: resolve(o.initramfs) } : {}), arm: o.arm, scratch: join(p.home, "tmp", `update-${process.pid}`) });
      if (ctx.globals.json) ctx.printJson(r);
      ctx.ui.step("update", `slot ${o.slot} of ${basename(file)} now holds ${o.release}${o.arm ? `; the next boot tries it once (boot_once=${o.slot}), then falls back to boot_default=${r.grubenv.boot_default}` : ""}`);
    });
}
