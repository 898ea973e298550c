/**
 * File-level wrappers around the pure SUBK code: pack a bundle from a build dir, inspect a file.
 */
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import {
  packBundle,
  inspectBundle,
  renderInspection,
  payloadFromVmlinux,
  payloadFromArm64Image,
  payloadFromRiscvImage,
  type BundleArch,
  type BundleVariant,
  type BundleInspection,
  type KernelPayload,
} from "./bundle.js";
import { ARCHES, archSpec, type ArchSpec, type BundleSpec } from "../tables/arches.js";
import { writeFileAtomic } from "./artifact.js";
import { ProjectError, InfraError } from "../errors.js";

/** The arch's bundle row, or a ProjectError naming the arches that have one. */
function bundleRow(arch: BundleArch): { spec: ArchSpec; bundle: BundleSpec } {
  const spec = archSpec(arch);
  if (!spec?.bundle) {
    throw new ProjectError(`no SUBK bundle format for ${arch}`, {}, `bundles exist for ${Object.values(ARCHES).filter((a) => a.bundle).map((a) => a.name).join(", ")}`);
  }
  return { spec, bundle: spec.bundle };
}

/** Which file of the build dir a bundle is made from (the arch table's bundle.input). */
export function bundleInputPath(arch: BundleArch, buildDir: string): string {
  const { spec, bundle } = bundleRow(arch);
  return join(buildDir, bundle.input === "vmlinux" ? "vmlinux" : spec.imagePath);
}

/**
 * The file a bundle is made from in a store entry: `vmlinux` (x86_64), or the installed raw
 * Image (`boot/vmlinuz-<release>`, aarch64 and riscv64).
 */
export function bundleInputInEntry(arch: BundleArch, entryDir: string, release: string): string {
  const { spec, bundle } = bundleRow(arch);
  return bundle.input === "vmlinux" ? join(entryDir, "vmlinux") : join(entryDir, "boot", `${spec.installName}-${release}`);
}

export function payloadFromBuild(arch: BundleArch, buildDir: string, opts: { aarch64Base?: bigint; file?: string } = {}): KernelPayload {
  const { spec, bundle } = bundleRow(arch);
  const file = opts.file ?? bundleInputPath(arch, buildDir);
  if (!existsSync(file)) throw new ProjectError(`the build has no ${file}`, { file }, bundle.input === "vmlinux" ? "build the vmlinux goal" : `build the ${spec.imageGoal} goal`);
  const data = readFileSync(file);
  switch (bundle.payload) {
    case "x86-vmlinux":
      return payloadFromVmlinux(data, file);
    case "arm64-image":
      return payloadFromArm64Image(data, { base: opts.aarch64Base, file });
    case "riscv-image":
      return payloadFromRiscvImage(data);
  }
}

/** Packs `<out>` from a build dir; validates the result before writing it. */
export function packBundleFromBuild(o: {
  arch: BundleArch;
  variant: BundleVariant;
  buildDir: string;
  /** Overrides the input file (e.g. bundleInputInEntry for a store entry). */
  input?: string;
  out: string;
  abiVersion?: number;
  aarch64Base?: bigint;
  qboot?: string;
  initrd?: string;
}): { path: string; sha256: string; size: number } {
  const kernel = payloadFromBuild(o.arch, o.buildDir, { aarch64Base: o.aarch64Base, file: o.input });
  const bundle = packBundle({
    arch: o.arch,
    variant: o.variant,
    abiVersion: o.abiVersion,
    kernel,
    qboot: o.qboot ? readFileSync(o.qboot) : undefined,
    initrd: o.initrd ? readFileSync(o.initrd) : undefined,
  });
  const check = inspectBundle(bundle);
  if (!check.ok) throw new InfraError(`kiln produced an invalid bundle:\n${renderInspection(check, o.out)}`, { file: o.out });
  writeFileAtomic(o.out, bundle);
  return { path: o.out, sha256: createHash("sha256").update(bundle).digest("hex"), size: bundle.length };
}

/** `kiln bundle inspect <file>`: the report text and whether the bundle is valid (exit 1 if not). */
export function inspectBundleFile(path: string): { ok: boolean; text: string; inspection: BundleInspection } {
  if (!existsSync(path)) throw new ProjectError("no such bundle file", { file: path });
  const inspection = inspectBundle(readFileSync(path));
  return { ok: inspection.ok, text: renderInspection(inspection, path), inspection };
}
