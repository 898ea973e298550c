/**
 * The outputs a target declares beyond "install", written after a build (or a reuse) into
 * `<project>/out/<release>/`:
 *   artifact  <name>-kernel-<release>-<arch>.tar.zst, its .sha256, and manifest.json beside it
 *   bundle    linux-<release>-base-<arch>.kernel (SUBK), from vmlinux (x86_64) or the raw Image
 *   deb       kbuild's `make bindeb-pkg` in the warm tree, checked with dpkg-deb
 *   rpm       kbuild's `make binrpm-pkg` in the warm tree, checked with rpm -qip/-qlp
 *   devel     <name>-devel-<release>-<arch>.tar.zst: the store entry's devel layer (src/devel)
 * Everything is made in a staging folder beside `out/<release>` and moved in with one rename,
 * so the folder is either the previous complete set or the new complete set.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import type { Project } from "../project/load.js";
import type { Manifest } from "../core/manifest.js";
import type { Paths } from "../store/paths.js";
import type { Ui } from "../ui/log.js";
import { entryDir } from "../store/store.js";
import { ARCHES } from "../tables/arches.js";
import { buildFlags, ccacheEnv } from "./build_flags.js";
import { run, which } from "../effects/proc.js";
import { writeArtifact } from "../ship/artifact.js";
import { packBundleFromBuild, bundleInputInEntry } from "../ship/bundle_file.js";
import { bundleFileName, BUNDLE_ARCHES, BUNDLE_VARIANTS, type BundleArch, type BundleVariant } from "../ship/bundle.js";
import { assertKernelDeb } from "../ship/deb.js";
import { listModules } from "./install.js";
import { assertKernelRpm, rpmVersionOf } from "../ship/rpm.js";
import { ProjectError, InfraError } from "../errors.js";
import { fmtBytes } from "../ui/log.js";

export type OutputKind = "artifact" | "bundle" | "deb" | "rpm" | "devel";

export interface OutputOptions {
  paths: Paths;
  ui: Ui;
}

/** The name in artifact file names: [ship].artifact_name, else the project name. */
export function artifactName(project: Project): string {
  return project.decl.ship.artifact_name ?? project.decl.name;
}

/** `<project>/out/<release>`. */
export function outDir(project: Project, release: string): string {
  return join(project.dir, "out", release);
}

/** The store entry a manifest describes (its own record, else the local store's folder). */
export function manifestEntry(manifest: Manifest, p: Paths): string {
  const release = manifest.uts_release;
  if (!release) throw new ProjectError("the build manifest has no release", {}, "build the target first: kiln build");
  const own = manifest.artifacts?.store_entry;
  if (own && existsSync(join(own, "boot"))) return own;
  const local = entryDir(p, release);
  if (!existsSync(join(local, "boot"))) {
    throw new ProjectError(`the store has no entry for ${release}`, { file: local }, "build the target first: kiln build");
  }
  return local;
}

/**
 * Called by `kiln build` for each cell: writes the outputs the target declares beyond
 * "install" into `<project>/out/<release>/` and returns name -> path.
 */
export async function produceOutputs(project: Project, targetName: string, arch: string, manifest: Manifest, o: OutputOptions): Promise<Record<string, string>> {
  const target = project.targets[targetName];
  if (!target) throw new ProjectError(`no target "${targetName}" in kiln.toml`, { file: project.file });
  const kinds = target.outputs.filter((k): k is OutputKind => k !== "install");
  if (kinds.length === 0) return {};
  return writeOutputs(project, targetName, arch, manifest, kinds, o);
}

/**
 * Writes the given outputs for one build. Files already in `out/<release>` that are not
 * rewritten are kept (e.g. packages made by an earlier run).
 */
export async function writeOutputs(
  project: Project,
  targetName: string,
  arch: string,
  manifest: Manifest,
  kinds: OutputKind[],
  o: OutputOptions & { variants?: BundleVariant[] },
): Promise<Record<string, string>> {
  const release = manifest.uts_release;
  if (!release) throw new ProjectError("the build manifest has no release", {}, "build the target first: kiln build");
  const entry = manifestEntry(manifest, o.paths);
  const dest = outDir(project, release);
  const stage = join(dirname(dest), `.${release}.staging-${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(stage, { recursive: true });
  const made: Record<string, string> = {};
  try {
    // keep what an earlier run made and this run does not remake
    if (existsSync(dest)) for (const f of readdirSync(dest)) copyFileSync(join(dest, f), join(stage, f));
    const timestamp = manifest.inputs.source.timestamp;
    if (kinds.includes("artifact")) {
      const a = await writeArtifact({ entryDir: entry, name: artifactName(project), release, arch, timestamp, outDir: stage });
      copyFileSync(join(entry, "manifest.json"), join(stage, "manifest.json"));
      made.artifact = a.path;
      made.sha256 = a.sha256Path;
      made.manifest = join(stage, "manifest.json");
      o.ui.step("artifact", `${basename(a.path)} (${fmtBytes(a.size)}, sha256 ${a.sha256.slice(0, 16)}…)`);
    }
    if (kinds.includes("bundle")) {
      for (const v of o.variants ?? ["base"]) {
        const b = packBundle(entry, release, arch, v, stage);
        made[v === "base" ? "bundle" : `bundle-${v}`] = b;
        o.ui.step("bundle", `${basename(b)} (${fmtBytes(statSync(b).size)})`);
      }
    }
    if (kinds.includes("deb")) {
      for (const d of await makeDebs(project, targetName, arch, manifest, stage, o).catch((e: unknown) => {
        // a build reused from the store or a peer was not compiled in this warm tree
        if (!(e instanceof NotInWarmTree)) throw e;
        o.ui.warn(e.render());
        return [] as string[];
      })) {
        made[/^linux-image-/.test(basename(d)) ? "deb" : basename(d).replace(/_.*$/, "")] = d;
        o.ui.step("deb", basename(d));
      }
    }
    if (kinds.includes("rpm")) {
      for (const f of await makeRpms(project, targetName, arch, manifest, stage, o).catch((e: unknown) => {
        if (!(e instanceof NotInWarmTree)) throw e;
        o.ui.warn(e.render());
        return [] as string[];
      })) {
        made[/^kernel-\d/.test(basename(f)) ? "rpm" : basename(f).replace(/-\d.*$/, "")] = f;
        o.ui.step("rpm", basename(f));
      }
    }
    if (kinds.includes("devel")) {
      const lib = await import("../devel/index.js");
      const have = await lib.ensureDevel(project, targetName, manifest, o.paths, (m) => o.ui.info(m)).catch((e: unknown) => {
        if (!(e instanceof lib.DevelNotInWarmTree)) throw e;
        o.ui.warn(e.render());
        return undefined;
      });
      if (have) {
        const a = await lib.writeDevelArtifact({ entry: have.entry, name: artifactName(project), release, arch, timestamp, outDir: stage });
        made.devel = a.path;
        made["devel-sha256"] = a.sha256Path;
        o.ui.step("devel", `${basename(a.path)} (${fmtBytes(a.size)}, sha256 ${a.sha256.slice(0, 16)}…)`);
      }
    }
    // one rename: the old set is set aside, the new set moved in, the old set removed
    mkdirSync(dirname(dest), { recursive: true });
    const aside = existsSync(dest) ? `${stage}.old` : undefined;
    if (aside) renameSync(dest, aside);
    try {
      renameSync(stage, dest);
    } catch (e) {
      if (aside) renameSync(aside, dest);
      throw e;
    }
    if (aside) rmSync(aside, { recursive: true, force: true });
  } catch (e) {
    rmSync(stage, { recursive: true, force: true });
    throw e;
  }
  return Object.fromEntries(Object.entries(made).map(([k, v]) => [k, join(dest, basename(v))]));
}

/** The warm tree does not hold the build (it was reused): packages are skipped with a warning. */
class NotInWarmTree extends ProjectError {}

/** Packs one SUBK bundle of a store entry into `dir`; returns its path. */
export function packBundle(entry: string, release: string, arch: string, variant: BundleVariant, dir: string): string {
  if (!(arch in BUNDLE_ARCHES)) throw new ProjectError(`no SUBK bundle format for ${arch}`, {}, `bundles exist for ${Object.keys(BUNDLE_ARCHES).join(", ")}`);
  if (!(variant in BUNDLE_VARIANTS)) throw new ProjectError(`unknown bundle variant "${variant}"`, {}, `variants: ${Object.keys(BUNDLE_VARIANTS).join(", ")}`);
  const bArch = arch as BundleArch;
  const input = bundleInputInEntry(bArch, entry, release);
  const out = join(dir, bundleFileName(release, variant, bArch));
  // an entry fetched from a peer has no vmlinux, but may carry the peer's signed bundles
  const peerCopy = join(entry, "bundles", basename(out));
  if (!existsSync(input) && existsSync(peerCopy)) {
    copyFileSync(peerCopy, out);
    return out;
  }
  if (!existsSync(input)) {
    throw new ProjectError(
      `cannot pack a bundle: ${basename(input)} is not in the store entry`,
      { file: input },
      bArch === "x86_64" ? "x86_64 bundles are made from vmlinux; rebuild locally (kiln build --no-reuse) if this entry came from a peer without it" : "build the target first",
    );
  }
  packBundleFromBuild({ arch: bArch, variant, buildDir: entry, input, out });
  return out;
}

/** The warm build folder, when it holds this build (its kernel.release and vmlinux); else NotInWarmTree. */
function heldBuild(manifest: Manifest, targetName: string, arch: string, what: string): { build: string; spec: (typeof ARCHES)[string] & object } {
  const release = manifest.uts_release!;
  const build = manifest.build_dir;
  const spec = ARCHES[arch];
  if (!spec) throw new ProjectError(`unknown arch "${arch}"`);
  const where = build ? join(build, "include", "config", "kernel.release") : undefined;
  const current = where && existsSync(where) ? readFileSync(where, "utf8").trim() : undefined;
  if (!build || current !== release || !existsSync(join(build, "vmlinux"))) {
    throw new NotInWarmTree(
      `no ${what} for ${release}: they are made in the warm build tree, which does not hold this build${current ? ` (it holds ${current})` : ""}`,
      { file: build ?? "(no build folder)" },
      `compile it there first: kiln build ${targetName} --arch ${arch} --no-reuse`,
    );
  }
  return { build, spec };
}

/**
 * kbuild's `bindeb-pkg` in the warm tree the build used, with the build's own make flags
 * (so nothing recompiles), then each linux-image package checked with dpkg-deb.
 */
async function makeDebs(project: Project, targetName: string, arch: string, manifest: Manifest, stage: string, o: OutputOptions): Promise<string[]> {
  const release = manifest.uts_release!;
  const target = project.targets[targetName]!;
  const { build, spec } = heldBuild(manifest, targetName, arch, "Debian packages");
  for (const tool of ["dpkg-buildpackage", "dh_listpackages"]) {
    if (!(await which(tool))) throw new InfraError(`${tool} is not installed; kbuild's bindeb-pkg needs it`, {}, "apt-get install dpkg-dev debhelper");
  }
  const src = join(dirname(build), "src");
  const ccacheBin = await which("ccache");
  const flags = buildFlags({ arch: spec, toolchain: target.toolchain, src, build, timestamp: manifest.inputs.source.timestamp, makeVars: target.make_vars, ...(ccacheBin ? { ccache: { bin: ccacheBin } } : {}) });
  const parent = dirname(build);
  const before = new Set(readdirSync(parent));
  const version = `${manifest.kernel_version ?? "0"}-${project.decl.ship.revision + 1}`;
  const env: Record<string, string> = { LC_ALL: "C", ...(ccacheBin ? ccacheEnv(o.paths.ccache, join(parent, "state", "ccache-stats.log"), { src, build }) : {}) };
  o.ui.step("deb", `make bindeb-pkg for ${release}`);
  await run(["make", "-C", src, `O=${build}`, ...flags.makeVars, `-j${availableParallelism()}`, `KDEB_PKGVERSION=${version}`, "bindeb-pkg"], { env });
  const debs = readdirSync(parent).filter((f) => f.endsWith(".deb") && f.includes(`_${version}_`));
  const image = debs.find((f) => f.startsWith(`linux-image-${release}_`) && !f.startsWith(`linux-image-${release}-dbg`));
  if (!image) throw new InfraError(`bindeb-pkg made no linux-image-${release} package`, { file: parent }, "see the make output above");
  const modTree = join(manifestEntry(manifest, o.paths), "lib", "modules", release);
  // a modular build's package must carry every module of the store entry
  await assertKernelDeb(join(parent, image), release, { modules: existsSync(modTree) ? listModules(modTree).map((m) => m.path) : false });
  const out: string[] = [];
  for (const f of debs) {
    renameSync(join(parent, f), join(stage, f));
    out.push(join(stage, f));
  }
  for (const f of readdirSync(parent)) if (!before.has(f) && /\.(buildinfo|changes)$/.test(f)) rmSync(join(parent, f), { force: true });
  return out;
}

/**
 * kbuild's `binrpm-pkg` in the warm tree the build used, with the build's own make flags, so
 * nothing recompiles: kernel.spec's %build runs make again with KBUILD_BUILD_VERSION set to the
 * package release, which kbuild's scripts/build-version takes from `.version` + 1; kiln writes
 * `.version` = 0 first so the release is 1, the KBUILD_BUILD_VERSION kiln builds with. A change
 * of vmlinux during packaging (a recompile) is an error. The packages are checked with rpm
 * -qip/-qlp; rpmbuild's folder is removed. See docs/adr/0058.
 */
async function makeRpms(project: Project, targetName: string, arch: string, manifest: Manifest, stage: string, o: OutputOptions): Promise<string[]> {
  const release = manifest.uts_release!;
  const target = project.targets[targetName]!;
  const { build, spec } = heldBuild(manifest, targetName, arch, "RPM packages");
  if (!(await which("rpmbuild"))) throw new InfraError("rpmbuild is not installed; kbuild's binrpm-pkg needs it", {}, "apt-get install rpm");
  const src = join(dirname(build), "src");
  const ccacheBin = await which("ccache");
  const timestamp = manifest.inputs.source.timestamp;
  const flags = buildFlags({ arch: spec, toolchain: target.toolchain, src, build, timestamp, makeVars: target.make_vars, ...(ccacheBin ? { ccache: { bin: ccacheBin } } : {}) });
  const vmlinux = join(build, "vmlinux");
  const before = statSync(vmlinux).mtimeMs;
  const top = join(build, "rpmbuild");
  rmSync(top, { recursive: true, force: true });
  writeFileSync(join(build, ".version"), "0\n");
  const env: Record<string, string> = { LC_ALL: "C", SOURCE_DATE_EPOCH: String(timestamp), ...(ccacheBin ? ccacheEnv(o.paths.ccache, join(dirname(build), "state", "ccache-stats.log"), { src, build }) : {}) };
  const rpmopts = `--define "_buildhost kiln" --define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1"`;
  o.ui.step("rpm", `make binrpm-pkg for ${release}`);
  try {
    await run(["make", "-C", src, `O=${build}`, ...flags.makeVars, `-j${availableParallelism()}`, `RPMOPTS=${rpmopts}`, "binrpm-pkg"], { env });
    if (statSync(vmlinux).mtimeMs !== before) {
      throw new InfraError(`binrpm-pkg rebuilt vmlinux for ${release}: the package would not hold the build kiln identified`, { file: vmlinux }, "report this: the packaging make must run with the build's own flags");
    }
    const dir = join(top, "RPMS");
    const rpms = existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".rpm")) : [];
    const kernel = rpms.find((f) => basename(f).startsWith(`kernel-${rpmVersionOf(release)}-`));
    if (!kernel) throw new InfraError(`binrpm-pkg made no kernel-${rpmVersionOf(release)} package`, { file: dir }, "see the make output above");
    await assertKernelRpm(join(dir, kernel), release, { modules: existsSync(join(manifestEntry(manifest, o.paths), "lib", "modules", release)) });
    const out: string[] = [];
    for (const f of rpms) {
      renameSync(join(dir, f), join(stage, basename(f)));
      out.push(join(stage, basename(f)));
    }
    return out;
  } finally {
    rmSync(top, { recursive: true, force: true });
    rmSync(join(build, ".version"), { force: true });
  }
}
