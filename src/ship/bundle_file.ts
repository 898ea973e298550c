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
import { archSpec } from "../tables/arches.js";
import { writeFileAtomic } from "./artifact.js";
import { ProjectError, InfraError } from "../errors.js";

/** Which file of the build dir a bundle is made from. */
export function bundleInputPath(arch: BundleArch, buildDir: string): string {
  if (arch === "x86_64") return join(buildDir, "vmlinux");
  const spec = archSpec(arch);
  if (!spec) throw new ProjectError(`no arch table row for ${arch}`);
  return join(buildDir, spec.imagePath);
}

/**
 * The file a bundle is made from in a store entry: `vmlinux` for x86_64, the installed raw
 * Image (`boot/vmlinuz-<release>`) for aarch64 and riscv64.
 */
export function bundleInputInEntry(arch: BundleArch, entryDir: string, release: string): string {
  return arch === "x86_64" ? join(entryDir, "vmlinux") : join(entryDir, "boot", `vmlinuz-${release}`);
}

export function payloadFromBuild(arch: BundleArch, buildDir: string, opts: { aarch64Base?: bigint; file?: string } = {}): KernelPayload {
  const file = opts.file ?? bundleInputPath(arch, buildDir);
  if (!existsSync(file)) throw new ProjectError(`the build has no ${file}`, { file }, arch === "x86_64" ? "build the vmlinux goal" : `build the ${archSpec(arch)?.imageGoal ?? "Image"} goal`);
  const data = readFileSync(file);
  if (arch === "x86_64") return payloadFromVmlinux(data, file);
  if (arch === "aarch64") return payloadFromArm64Image(data, { base: opts.aarch64Base, file });
  return payloadFromRiscvImage(data);
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
