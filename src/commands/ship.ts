/**
 * Shipping commands: keygen, bundle inspect/pack, publish, fetch, check repro.
 * The library they drive is src/ship/ (see docs/shipping.md and docs/adr/0030-0039).
 */
import type { Command } from "commander";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { homedir } from "node:os";
import { ProjectError, GateFailure, SourceError } from "../errors.js";
import type { Project } from "../project/load.js";
import { ARCHES, hostArch } from "../tables/arches.js";
import { paths as kilnPaths, type Paths } from "../store/paths.js";
import type { Manifest } from "../core/manifest.js";
import { fmtBytes, fmtDuration, type Ui } from "../ui/log.js";
import { BUNDLE_VARIANTS, type BundleVariant } from "../ship/bundle.js";
import type { MinisignKeyPair } from "../ship/minisign.js";
import type { OutputKind } from "../pipeline/outputs.js";
import type { OpenedRemote } from "../ship/remotes.js";
import { intOption, type Context } from "./context.js";

// The shipping library, bound when a ship command runs (load()), so that starting kiln for any
// other command does not load it.
let entryDir: typeof import("../store/store.js").entryDir;
let readManifest: typeof import("../store/store.js").readManifest;
let inspectBundleFile: typeof import("../ship/bundle_file.js").inspectBundleFile;
let keygen: typeof import("../ship/minisign.js").keygen;
let artifactFileName: typeof import("../ship/artifact.js").artifactFileName;
let sha256File: typeof import("../ship/artifact.js").sha256File;
let publishMirror: typeof import("../ship/publish.js").publishMirror;
let fetchKernel: typeof import("../ship/fetch.js").fetchKernel;
let markerPath: typeof import("../ship/fetch.js").markerPath;
let pushKernelOci: typeof import("../ship/oci.js").pushKernelOci;
let renderDifferences: typeof import("../ship/compare.js").renderDifferences;
let artifactName: typeof import("../pipeline/outputs.js").artifactName;
let manifestEntry: typeof import("../pipeline/outputs.js").manifestEntry;
let outDir: typeof import("../pipeline/outputs.js").outDir;
let packBundle: typeof import("../pipeline/outputs.js").packBundle;
let writeOutputs: typeof import("../pipeline/outputs.js").writeOutputs;
let openRemote: typeof import("../ship/remotes.js").openRemote;
let openDeclaredRemote: typeof import("../ship/remotes.js").openDeclaredRemote;
let signingKey: typeof import("../ship/remotes.js").signingKey;
let trustedKeys: typeof import("../ship/remotes.js").trustedKeys;
let pickCell: typeof import("../pipeline/cells.js").pickCell;
let pickTarget: typeof import("../pipeline/cells.js").pickTarget;
let cellWarmTree: typeof import("../pipeline/cells.js").cellWarmTree;
let reproGate: typeof import("../pipeline/repro.js").reproGate;

async function load(): Promise<void> {
  const [store, bundleFile, minisign, artifact, mirror, fetch, oci, compare, outputs, fid, cells, repro] = await Promise.all([
    import("../store/store.js"), import("../ship/bundle_file.js"), import("../ship/minisign.js"), import("../ship/artifact.js"), import("../ship/publish.js"), import("../ship/fetch.js"),
    import("../ship/oci.js"), import("../ship/compare.js"), import("../pipeline/outputs.js"), import("../ship/remotes.js"), import("../pipeline/cells.js"), import("../pipeline/repro.js"),
  ]);
  ({ entryDir, readManifest } = store);
  ({ inspectBundleFile } = bundleFile);
  ({ keygen } = minisign);
  ({ artifactFileName, sha256File } = artifact);
  ({ publishMirror } = mirror);
  ({ fetchKernel, markerPath } = fetch);
  ({ pushKernelOci } = oci);
  ({ renderDifferences } = compare);
  ({ artifactName, manifestEntry, outDir, packBundle, writeOutputs } = outputs);
  ({ openRemote, openDeclaredRemote, signingKey, trustedKeys } = fid);
  ({ pickCell, pickTarget, cellWarmTree } = cells);
  ({ reproGate } = repro);
}

/** What `kiln fetch` runs (a consumer's command: it loads the fetch side only). */
async function loadFetch(): Promise<void> {
  const [fetch, fid] = await Promise.all([import("../ship/fetch.js"), import("../ship/remotes.js")]);
  ({ fetchKernel, markerPath } = fetch);
  ({ openRemote, openDeclaredRemote, signingKey, trustedKeys } = fid);
}

/** One built cell: its manifest (from the last build of the target, or a store entry by release). */
interface Built {
  target: string;
  arch: string;
  release: string;
  manifest: Manifest;
  entry: string;
}

function findBuild(project: Project, p: Paths, o: { target?: string; arch?: string; release?: string }): Built {
  if (o.release) {
    const file = join(entryDir(p, o.release), "manifest.json");
    if (!existsSync(file)) throw new ProjectError(`the store has no entry ${o.release}`, { file }, "list the store with `kiln store ls`");
    const m = readManifest(file);
    if (o.target && m.target !== o.target) throw new ProjectError(`store entry ${o.release} is a build of target "${m.target}", not "${o.target}"`, { file });
    if (!project.targets[m.target]) throw new ProjectError(`store entry ${o.release} is of target "${m.target}", which kiln.toml does not declare`, { file: project.file });
    return { target: m.target, arch: m.arch, release: o.release, manifest: m, entry: manifestEntry(m, p) };
  }
  const { target: t, arch } = pickCell(project, o.target, o.arch);
  const file = join(cellWarmTree(project, { target: t, arch }, p).state, "manifest.json");
  if (!existsSync(file)) throw new ProjectError(`${t}/${arch} has not been built`, { file }, `build it first: kiln build ${t} --arch ${arch}`);
  const m = readManifest(file);
  if (m.status !== "ok" || !m.uts_release) throw new ProjectError(`the last build of ${t}/${arch} did not finish (status ${m.status})`, { file }, `build it first: kiln build ${t} --arch ${arch}`);
  return { target: t, arch, release: m.uts_release, manifest: m, entry: manifestEntry(m, p) };
}

function parseVariant(v: string): BundleVariant {
  if (!(v in BUNDLE_VARIANTS)) throw new ProjectError(`unknown bundle variant "${v}"`, {}, `variants: ${Object.keys(BUNDLE_VARIANTS).join(", ")}`);
  return v as BundleVariant;
}

/** The release's files in out/<release>: made now when missing. */
async function releaseFiles(project: Project, b: Built, p: Paths, ui: Ui): Promise<{ artifact: string; extra: string[] }> {
  const dir = outDir(project, b.release);
  const art = join(dir, artifactFileName(artifactName(project), b.release, b.arch));
  const wantBundle = project.targets[b.target]!.outputs.includes("bundle");
  const kinds: OutputKind[] = [];
  const sideOk = existsSync(`${art}.sha256`) && existsSync(art) && readFileSync(`${art}.sha256`, "utf8").trim() === (await sha256File(art));
  if (!sideOk || !existsSync(join(dir, "manifest.json"))) kinds.push("artifact");
  const bundles = () => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(`-${b.arch}.kernel`) && f.startsWith(`linux-${b.release}-`)) : []);
  if (wantBundle && bundles().length === 0) kinds.push("bundle");
  // the devel layer's artifact ships beside the run artifact, signed in the same SHA256SUMS
  const wantDevel = project.targets[b.target]!.outputs.includes("devel");
  const develArt = join(dir, (await import("../devel/index.js")).develArtifactName(artifactName(project), b.release, b.arch));
  if (wantDevel && !existsSync(develArt)) kinds.push("devel");
  if (kinds.length) await writeOutputs(project, b.target, b.arch, b.manifest, kinds, { paths: p, ui });
  // Debian and RPM packages ship with the rest, covered by the same signed SHA256SUMS. They are
  // made only in the warm tree that compiled the build, so publish takes what out/<release> holds.
  const packages: string[] = [];
  for (const [kind, ext] of [["deb", ".deb"], ["rpm", ".rpm"]] as const) {
    if (!project.targets[b.target]!.outputs.includes(kind)) continue;
    const found = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(ext)).sort() : [];
    if (!found.length) ui.warn(`no ${ext} packages for ${b.release} in ${dir}: they are made in the warm tree that compiled it (kiln build --tree); publishing without them`);
    packages.push(...found.map((f) => join(dir, f)));
  }
  // disk images made from this build (kiln image) ship beside it, in the same signed SHA256SUMS;
  // publish takes the ones out/<release> holds, checked against their .sha256 first
  const images: string[] = [];
  const [{ imageTarget }, { imageFileName }] = await Promise.all([import("../image/project.js"), import("../image/layout.js")]);
  for (const [name, decl] of Object.entries(project.decl.image)) {
    if (imageTarget(project, decl) !== b.target) continue;
    const f = join(dir, imageFileName(name, b.release, b.arch));
    if (!existsSync(f)) continue;
    const side = existsSync(`${f}.sha256`) ? readFileSync(`${f}.sha256`, "utf8").trim() : "";
    if (side !== (await sha256File(f))) throw new ProjectError(`${basename(f)} does not match its .sha256: it changed after kiln image wrote it`, { file: f }, `make it again: kiln image ${name} --arch ${b.arch}`);
    images.push(f);
  }
  return { artifact: art, extra: [join(dir, "manifest.json"), ...(wantBundle ? bundles().map((f) => join(dir, f)) : []), ...(wantDevel && existsSync(develArt) ? [develArt] : []), ...packages, ...images] };
}


export function registerShipCommands(prog: Command, check: Command, ctx: Context): void {
  // ------------------------------------------------------------------ keygen
  prog
    .command("keygen")
    .description("create a minisign-compatible signing key pair (<name>.key, mode 0600, and <name>.pub)")
    .option("--out <dir>", "where to write the keys (default: ~/.config/kiln)")
    .option("--name <name>", "file name without extension", "kiln")
    .option("--force", "replace existing key files (the old key stops signing)")
    .action(async (o: { out?: string; name: string; force?: boolean }) => {
      await load();
      const g = ctx.globals;
      const ui = ctx.ui;
      if (!/^[A-Za-z0-9._-]+$/.test(o.name)) throw new ProjectError(`--name ${JSON.stringify(o.name)} must be a plain file name`);
      const dir = resolve(o.out ?? join(process.env.XDG_CONFIG_HOME || join(homedir(), ".config"), "kiln"));
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const pub = join(dir, `${o.name}.pub`);
      const key = join(dir, `${o.name}.key`);
      const r = keygen({ publicPath: pub, secretPath: key, force: !!o.force });
      if (g.json) return ctx.printJson({ key_id: r.keyId, public_key: r.publicKey, public_key_file: pub, secret_key_file: key });
      ui.step("keygen", `key ${r.keyId}`);
      ui.info(`secret key  ${key}  (unencrypted, mode 0600: protect it like an SSH key)`);
      ui.info(`public key  ${pub}  ${r.publicKey}`);
      ui.info(`publishers: [ship] signing_key = "${key}"   (or KILN_SIGNING_KEY=${key})`);
      ui.info(`consumers:  [ship] trusted_keys = ["${r.publicKey}"]   (or kiln fetch --trusted-key ${pub})`);
    });

  // ------------------------------------------------------------------ bundle
  const bundle = prog.command("bundle").description("SUBK kernel bundles for microVM monitors");
  bundle
    .command("inspect <file>")
    .description("read and validate a bundle: magic, sizes, alignment, overlaps, arch and variant (exit 1 when invalid)")
    .action(async (file: string) => {
      await load();
      const g = ctx.globals;
      const ui = ctx.ui;
      const r = inspectBundleFile(resolve(file));
      if (g.json) ctx.printJson({ file: resolve(file), ...r.inspection });
      else if (r.ok) ui.info(r.text);
      else process.stderr.write(`${r.text}\n`);
      if (!r.ok) throw new ProjectError(`${file} is not a valid SUBK bundle (${r.inspection.ok ? 0 : r.inspection.problems.length} problem(s))`, { file: resolve(file) }, "every problem is listed above with its byte offset");
    });
  bundle
    .command("pack [target]")
    .description("pack a SUBK bundle from a build in the store")
    .option("--arch <arch>", "the arch (default: the target's first)")
    .option("--variant <variant>", `bundle variant (${Object.keys(BUNDLE_VARIANTS).join(", ")})`, "base")
    .option("--release <release>", "pack this store entry instead of the target's last build")
    .option("--out <file>", "output file (default: out/<release>/linux-<release>-<variant>-<arch>.kernel)")
    .action(async (target: string | undefined, o: { arch?: string; variant: string; release?: string; out?: string }) => {
      await load();
      const g = ctx.globals;
      const ui = ctx.ui;
      const project = await ctx.project();
      const p = kilnPaths();
      const b = findBuild(project, p, { target, arch: o.arch, release: o.release });
      const variant = parseVariant(o.variant);
      const dir = o.out ? resolve(o.out, "..") : outDir(project, b.release);
      mkdirSync(dir, { recursive: true });
      let file = packBundle(b.entry, b.release, b.arch, variant, dir);
      if (o.out && resolve(o.out) !== file) {
        renameSync(file, resolve(o.out));
        file = resolve(o.out);
      }
      const r = inspectBundleFile(file);
      if (g.json) return ctx.printJson({ file, release: b.release, arch: b.arch, variant, ...r.inspection });
      ui.step("bundle", `${file}`);
      ui.info(r.text);
    });

  // ------------------------------------------------------------------ publish
  prog
    .command("publish [target]")
    .description("sign and upload a build (artifact, SHA256SUMS, signature, bundle) to mirrors and OCI registries")
    .option("--arch <arch>", "only this arch (default: every arch of the target that was built)")
    .option("--remote <names...>", "remotes from kiln.toml (default: [ship].publish)")
    .option("--release <release>", "publish this store entry instead of the target's last build")
    .option("--signing-key <file>", "sign with this secret key instead of [ship].signing_key / $KILN_SIGNING_KEY (a farm worker's own key)")
    .action(async (target: string | undefined, o: { arch?: string; remote?: string[]; release?: string; signingKey?: string }) => {
      await load();
      const g = ctx.globals;
      const ui = ctx.ui;
      const project = await ctx.project();
      const p = kilnPaths();
      const names = o.remote ?? project.decl.ship.publish;
      if (names.length === 0) throw new ProjectError("no remote to publish to", { file: project.file }, 'list remotes under [ship] publish = ["…"], or pass --remote <name>');
      const remotes = names.map((n) => openDeclaredRemote(project, n));
      const { key, file: keyFile } = signingKey(project, o.signingKey ? resolve(o.signingKey) : undefined);
      ui.debug(`signing with ${keyFile}`);
      const builds: Built[] = [];
      if (o.release) builds.push(findBuild(project, p, { target, release: o.release }));
      else {
        const { name: t, decl } = pickTarget(project, target);
        if (o.arch && !(o.arch in ARCHES)) throw new ProjectError(`unknown arch "${o.arch}"`, {}, `arches: ${Object.keys(ARCHES).join(", ")}`);
        if (o.arch) builds.push(findBuild(project, p, { target: t, arch: o.arch }));
        else {
          const missing: string[] = [];
          for (const a of decl.arches) {
            try {
              builds.push(findBuild(project, p, { target: t, arch: a }));
            } catch (e) {
              if (!(e instanceof ProjectError) || decl.arches.length === 1) throw e;
              missing.push(`${a}: ${e.message}`);
            }
          }
          if (builds.length === 0) throw new ProjectError(`no arch of target "${t}" has a finished build:\n  ${missing.join("\n  ")}`, { file: project.file }, `build it first: kiln build ${t}`);
          for (const m of missing) ui.warn(`not publishing ${m}`);
        }
      }
      const report: unknown[] = [];
      for (const b of builds) {
        const kv = b.manifest.kernel_version;
        if (!kv) throw new ProjectError(`the manifest of ${b.release} has no kernel_version`, { file: join(b.entry, "manifest.json") }, "rebuild with a current kiln");
        const files = await releaseFiles(project, b, p, ui);
        const identity = b.manifest.identity?.digest;
        for (const r of remotes) {
          const t0 = Date.now();
          if (r.kind === "mirror") {
            const res = await publishMirror({ transport: r.transport, remote: r.name, lockDir: join(p.home, "locks"), name: artifactName(project), release: b.release, kernelVersion: kv, arch: b.arch, artifact: files.artifact, extra: files.extra, key, ...(identity ? { identity } : {}), revision: project.decl.ship.revision, validDays: project.decl.ship.index_valid_days, projectFile: project.file, onProgress: (m) => ui.debug(m) });
            report.push({ remote: r.name, kind: "mirror", where: r.where, release: b.release, arch: b.arch, tag: res.tag, files: res.files });
            ui.step("published", `${b.release} (${b.arch}) as ${res.tag} to ${r.name} (${r.where}) in ${fmtDuration(Date.now() - t0)}`);
          } else {
            const work = join(p.home, "tmp", `oci-${b.release}-${process.pid}`);
            try {
              // the devel artifact (when the target makes one) rides in the same signed manifest
              const develName = (await import("../devel/index.js")).develArtifactName(artifactName(project), b.release, b.arch);
              const devel = files.extra.find((f) => basename(f) === develName);
              const res = await pushKernelOci({ client: r.client, entryDir: b.entry, release: b.release, kernelVersion: kv, timestamp: b.manifest.inputs.source.timestamp, key, ...(identity ? { identity } : {}), workDir: work, ...(devel ? { devel } : {}) });
              report.push({ remote: r.name, kind: "oci", where: r.where, release: b.release, arch: b.arch, digest: res.digest, tags: res.tags });
              ui.step("published", `${b.release} (${b.arch}) to ${r.name} (${r.where}) tags ${res.tags.join(", ")} digest ${res.digest} in ${fmtDuration(Date.now() - t0)}`);
            } finally {
              rmSync(work, { recursive: true, force: true });
            }
          }
        }
      }
      if (g.json) ctx.printJson(report);
    });

  // ------------------------------------------------------------------ fetch
  prog
    .command("fetch <ref>")
    .description("install a published kernel (<name>@<version|tag|release>): verify, cache, unpack into a boot dir and a root")
    .requiredOption("--boot-dir <dir>", "where the image, System.map and config go")
    .requiredOption("--root <dir>", "the root that receives lib/modules/<release>")
    .option("--remote <remote>", "a remote from kiln.toml, a mirror folder or an http(s) URL (default: the project's first reuse or publish remote)")
    .option("--arch <arch>", "the kernel's arch (default: this machine's)")
    .option("--trusted-key <keys...>", "trust these public keys too (a .pub file or the base64 key)")
    .option("--cache-dir <dir>", "where downloads are kept (default: $KILN_HOME/downloads/kernels)")
    .option("--allow-unsigned", "DANGEROUS: install even when the signature is missing or cannot be checked")
    .option("--lock <file>", "a consumer lock: the first fetch pins the artifact's sha256 and key, later fetches install only those bytes")
    .option("--update", "with --lock: move the pin to what the mirror resolves now")
    .option("--max-unpack-bytes <n>", "unpack budget: total file bytes (default 4 GiB)", intOption("--max-unpack-bytes", 1))
    .option("--max-unpack-entries <n>", "unpack budget: entries, implied folders counted (default 200000)", intOption("--max-unpack-entries", 1))
    .option("--max-unpack-file-bytes <n>", "unpack budget: one file's bytes (default 1 GiB)", intOption("--max-unpack-file-bytes", 1))
    .option("--devel <dir>", "also fetch the release's devel artifact (verified the same way) into <dir>: compile_commands.json and build/ for make -C <dir>/build M=...")
    .action(async (ref: string, o: { bootDir: string; root: string; remote?: string; arch?: string; trustedKey?: string[]; cacheDir?: string; allowUnsigned?: boolean; lock?: string; update?: boolean; maxUnpackBytes?: number; maxUnpackEntries?: number; maxUnpackFileBytes?: number; devel?: string }) => {
      await loadFetch();
      if (o.update && !o.lock) throw new ProjectError("--update moves a consumer pin and needs --lock <file>", {}, "kiln fetch <ref> --lock kernel.lock --update");
      const g = ctx.globals;
      const ui = ctx.ui;
      const project = await ctx.maybeProject();
      const which = o.remote ?? project?.decl.ship.reuse[0] ?? project?.decl.ship.publish[0];
      if (!which) throw new ProjectError("no remote to fetch from", project ? { file: project.file } : {}, "pass --remote <url|folder|name>, or declare [ship] reuse = [\"<remote>\"] in kiln.toml");
      const remote: OpenedRemote = openRemote(project, which);
      if (remote.kind !== "mirror") {
        throw new ProjectError(`kiln fetch installs from plain mirrors; ${remote.name} is an OCI registry`, {}, "publish to a mirror as well, or pull the artifact with an OCI client");
      }
      const arch = o.arch ?? hostArch();
      if (!(arch in ARCHES)) throw new ProjectError(`unknown arch "${arch}"`, {}, `arches: ${Object.keys(ARCHES).join(", ")}`);
      const keys = trustedKeys(project, o.trustedKey ?? []);
      if (o.allowUnsigned) {
        ui.warn("!!! --allow-unsigned: the signature check may be SKIPPED. A tampered or forged kernel would be installed. Use this only for testing. !!!");
      }
      const t0 = Date.now();
      const res = await fetchKernel({
        ref,
        arch,
        transport: remote.transport,
        bootDir: resolve(o.bootDir),
        root: resolve(o.root),
        cacheDir: resolve(o.cacheDir ?? join(kilnPaths().downloads, "kernels")),
        stateDir: join(kilnPaths().home, "trust"),
        ...(o.lock ? { lockFile: resolve(o.lock) } : {}),
        ...(o.update ? { update: true } : {}),
        trustedKeys: keys,
        limits: { ...(o.maxUnpackBytes ? { maxTotalSize: o.maxUnpackBytes } : {}), ...(o.maxUnpackEntries ? { maxEntries: o.maxUnpackEntries } : {}), ...(o.maxUnpackFileBytes ? { maxEntrySize: o.maxUnpackFileBytes } : {}) },
        ...(o.allowUnsigned ? { allowUnsigned: true } : {}),
        onWarning: (w) => ui.warn(w),
        onProgress: (pr) => ui.debug(`${pr.file}: ${fmtBytes(pr.received)}${pr.total ? ` of ${fmtBytes(pr.total)}` : ""}`),
      });
      let devel: { dir: string; file: string; sha256: string; cached: boolean } | undefined;
      if (o.devel) {
        // the release as installed, verified again by its exact name, then its devel artifact
        const [{ fetchVerifiedArtifact }, { fetchDevel }] = await Promise.all([import("../ship/fetch.js"), import("../devel/fetch.js")]);
        const cacheDir = resolve(o.cacheDir ?? join(kilnPaths().downloads, "kernels"));
        const v = await fetchVerifiedArtifact({ ref: `${res.marker.name}@${res.marker.release}`, arch, transport: remote.transport, cacheDir, stateDir: join(kilnPaths().home, "trust"), trustedKeys: keys, ...(o.allowUnsigned ? { allowUnsigned: true } : {}), onWarning: (w) => ui.warn(w) });
        devel = await fetchDevel({ transport: remote.transport, entry: v.entry, name: res.marker.name, trustedKeys: keys, ...(o.allowUnsigned ? { allowUnsigned: true } : {}), cacheDir, dest: o.devel, onWarning: (w) => ui.warn(w) });
        ui.step("devel", `${devel.file}: sha256 ${devel.sha256.slice(0, 16)}… matches the signed SHA256SUMS -> ${devel.dir}`);
      }
      if (g.json) return ctx.printJson({ noop: res.noop, cached: res.cached, marker: res.marker, marker_file: markerPath(resolve(o.bootDir), res.marker.name), ...(devel ? { devel } : {}) });
      if (res.noop) {
        ui.step("fetch", `${res.marker.release} is already installed (${markerPath(resolve(o.bootDir), res.marker.name)}); nothing to do`);
        return;
      }
      const signed = res.marker.signed_by ? `signature by key ${res.marker.signed_by} verified` : "NOT signature-checked";
      ui.step("fetch", `${res.marker.artifact}${res.cached ? " (from the cache)" : ""}: sha256 ${res.marker.sha256.slice(0, 16)}… matches, ${signed}`);
      ui.step("installed", `${res.marker.release}: ${res.marker.boot_files.join(", ")} -> ${resolve(o.bootDir)}${res.marker.modules_dir ? `; ${res.marker.modules_dir} -> ${resolve(o.root)}` : ""} in ${fmtDuration(Date.now() - t0)}`);
    });

  // ------------------------------------------------------------------ check repro
  check
    .command("repro [target]")
    .description("the reproducibility gate: build twice from the pin in two folders (cold compiler cache for the second), compare byte for byte")
    .option("--arch <arch>", "the arch (default: the target's first)")
    .option("-j, --jobs <n>", "parallel make jobs", intOption("--jobs", 1))
    .option("--keep", "keep both builds under $KILN_HOME/repro even when they agree")
    .action(async (target: string | undefined, o: { arch?: string; jobs?: number; keep?: boolean }) => {
      await load();
      const g = ctx.globals;
      const ui = ctx.ui;
      const project = await ctx.project();
      const { target: t, arch } = pickCell(project, target, o.arch);
      const res = await reproGate(project, t, arch, ui, o);
      if (g.json) ctx.printJson(res);
      if (res.differences.length) {
        throw new GateFailure(
          `${t}/${arch} is not reproducible: ${res.differences.length} difference(s)\n${renderDifferences(res.differences, res.a, res.b)}`,
          {},
          `both builds are kept under ${res.root} for inspection`,
        );
      }
      ui.step("repro", `${res.release}: the two builds are byte-identical (artifact sha256 ${res.sha256})`);
    });
}
