/**
 * Image benchmark (issue 12): interleaved by bench/pair.ts.
 *
 *   create   kiln's makeImage (gpt-ab, the same inputs each run) vs the same layout by hand with
 *            the same tools (truncate, sfdisk, grub-mkimage, mkfs.vfat + mtools, mke2fs -d x3,
 *            zstd), without kiln's reproducibility work (derived ids, pinned ctimes)   goal <= 1.1
 *   boot     QEMU start -> init marker: the image through OVMF + GRUB vs the bare kernel
 *            (-kernel/-initrd), both TCG; the difference is the firmware's and the loader's share
 *
 *   node dist/bench/image.js [--runs N]      (default 3; x86_64; the kernel from the test store)
 */
import { mkdirSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { pair, sh, timeAsync, median, type PairResult } from "./pair.js";
import { ARCHES } from "../src/tables/arches.js";
import { IMAGE_BOOT } from "../src/tables/image_boot.js";
import { kernelCmdline } from "../src/boot/qemu.js";
import { runSmoke, writeSmokeInitramfs } from "../src/boot/smoke.js";
import { makeImage } from "../src/image/make.js";
import { bootImage } from "../src/image/boot.js";
import { encodeGrubenv, factoryGrubenv, grubCfg, slotCfg } from "../src/image/layout.js";
import { BOOT_TEST_CACHE, bootKernel } from "../test/support/boot_kernels.js";
import { TEST_CACHE } from "../test/support/trees.js";

const SIZES = { espMiB: 32, systemMiB: 32, dataMiB: 16 };

/** The gpt-ab layout by hand: what a person would type with the same tools. */
function handImage(work: string, kernel: string, initramfs: string, release: string, cmdline: string): void {
  const disk = join(work, "hand.img");
  rmSync(disk, { force: true });
  const mib = (n: number) => n * 2048;
  const starts = [2048, 2048 + mib(SIZES.espMiB), 2048 + mib(SIZES.espMiB + SIZES.systemMiB), 2048 + mib(SIZES.espMiB + 2 * SIZES.systemMiB)];
  const total = starts[3]! + mib(SIZES.dataMiB) + 2048;
  sh(["truncate", "-s", String(total * 512), disk]);
  const script = [
    "label: gpt",
    `start=${starts[0]}, size=${mib(SIZES.espMiB)}, type=U, name="EFI"`,
    `start=${starts[1]}, size=${mib(SIZES.systemMiB)}, type=L, name="system-a"`,
    `start=${starts[2]}, size=${mib(SIZES.systemMiB)}, type=L, name="system-b"`,
    `start=${starts[3]}, size=${mib(SIZES.dataMiB)}, type=L, name="data"`,
  ].join("\n");
  writeFileSync(join(work, "sfdisk.txt"), script + "\n");
  sh(["sh", "-c", `sfdisk -q --no-reread --no-tell-kernel "$1" < "$2"`, "sh", disk, join(work, "sfdisk.txt")]);
  const esp = join(work, "esp");
  rmSync(esp, { recursive: true, force: true });
  mkdirSync(join(esp, "EFI/BOOT"), { recursive: true });
  mkdirSync(join(esp, "EFI/kiln"), { recursive: true });
  const b = IMAGE_BOOT.x86_64!;
  sh(["grub-mkimage", "-O", b.grubFormat!, "-p", "/EFI/BOOT", "-o", join(esp, b.bootFile), ...b.grubModules!]);
  writeFileSync(join(esp, "EFI/BOOT/grub.cfg"), grubCfg());
  writeFileSync(join(esp, "EFI/kiln/grubenv"), encodeGrubenv(factoryGrubenv()));
  sh(["mkfs.vfat", "-n", "EFI", `--offset=${starts[0]}`, disk, String(SIZES.espMiB * 1024)]);
  const img = `${disk}@@${starts[0]! * 512}`;
  const env = { MTOOLS_SKIP_CHECK: "1" };
  sh(["mcopy", "-s", "-i", img, join(esp, "EFI"), "::/"], { env });
  for (const [i, slot] of [[1, "A"], [2, "B"]] as const) {
    const d = join(work, `sys-${slot}`);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(join(d, "boot"), { recursive: true });
    copyFileSync(kernel, join(d, "boot/vmlinuz"));
    copyFileSync(initramfs, join(d, "boot/initramfs.img"));
    writeFileSync(join(d, "boot/kiln-slot.cfg"), slotCfg({ release, cmdline: `${cmdline} kiln.slot=${slot}` }));
    sh(["mke2fs", "-q", "-F", "-t", "ext4", "-E", `offset=${starts[i]! * 512}`, "-d", d, disk, `${SIZES.systemMiB * 1024}k`]);
  }
  const data = join(work, "data");
  mkdirSync(data, { recursive: true });
  sh(["mke2fs", "-q", "-F", "-t", "ext4", "-E", `offset=${starts[3]! * 512}`, "-d", data, disk, `${SIZES.dataMiB * 1024}k`]);
  sh(["zstd", "-12", "-T1", "-q", "-f", disk, "-o", `${disk}.zst`]);
}

export async function imageBench(runs = 3): Promise<PairResult[]> {
  const work = join(TEST_CACHE, "image-bench");
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const arch = ARCHES.x86_64!;
  const k = bootKernel("x86_64");
  const initramfs = join(work, "initramfs.cpio");
  await writeSmokeInitramfs({ tree: k.tree, arch, cacheDir: BOOT_TEST_CACHE, out: initramfs });
  const cmdline = kernelCmdline(arch, { mode: "smoke" });
  const disk = join(work, "kiln.img");
  const inputs = { name: "bench", arch: "x86_64", release: k.release, kernel: k.image, initramfs, cmdline, sizes: SIZES, timestamp: k.manifest.inputs.source.timestamp };
  const out: PairResult[] = [];
  try {
    out.push(
      await pair(
        "image create: kiln makeImage vs the same layout by hand (same tools)",
        ["kiln", () => timeAsync(() => makeImage(inputs, { outDir: join(work, "out"), disk, scratch: join(work, "scratch") }))],
        ["by hand", () => timeAsync(async () => handImage(work, k.image, initramfs, k.release, cmdline))],
        { runs, warmup: true, goal: "<= 1.1" },
      ),
    );
    await makeImage(inputs, { outDir: join(work, "out"), disk, scratch: join(work, "scratch") });
    const viaImage = async () => {
      const r = await bootImage({ disk, arch: "x86_64", consoleLog: join(work, "image-boot.log"), cacheDir: BOOT_TEST_CACHE, accel: "tcg" });
      if (!r.ok || r.timings.markerSec === undefined) throw new Error(r.diagnosis ?? "image boot failed");
      return r.timings.markerSec;
    };
    const bare = async () => {
      const r = await runSmoke({ arch, kernel: k.image, initramfs, expectedRelease: k.release, consoleLog: join(work, "bare-boot.log"), accel: "tcg", cacheDir: BOOT_TEST_CACHE });
      if (!r.ok || r.timings.markerSec === undefined) throw new Error(r.diagnosis ?? "bare boot failed");
      return r.timings.markerSec;
    };
    const b = await pair("boot to marker (TCG): image via OVMF + GRUB vs bare kernel", ["image", viaImage], ["bare kernel", bare], { runs });
    const [mi, mb] = [median(b.a.runs), median(b.b.runs)];
    console.log(`  firmware + bootloader share of the image boot: ${(mi - mb).toFixed(2)} s of ${mi.toFixed(2)} s (${(((mi - mb) / mi) * 100).toFixed(0)} %), x86_64`);
    out.push(b);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const i = process.argv.indexOf("--runs");
  const runs = i > 0 ? Number(process.argv[i + 1]) : 3;
  const { table } = await import("./pair.js");
  const rs = await imageBench(runs);
  console.log(`\n${table(rs)}`);
}

