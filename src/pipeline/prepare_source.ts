/**
 * Step 1, prepare_source: resolve a pin to a verified tarball or commit, and import it into
 * kiln's object store as a git tree (once per content). Output: the resolved pin (for the lock
 * and the manifest) and the unpatched tree id.
 *
 * A second project that pins the same tarball downloads nothing and unpacks nothing.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, copyFileSync, renameSync, readdirSync, mkdtempSync } from "node:fs";
import { basename, join, resolve, isAbsolute } from "node:path";
import { LockError, SourceError, ProjectError } from "../errors.js";
import type { Pin } from "../project/schema.js";
import { pinDeclHash, type LockEntry } from "../project/lock.js";
import { GitStore } from "../effects/git.js";
import { withLock } from "../effects/lock.js";
import { run } from "../effects/proc.js";
import { downloadVerified } from "../effects/download.js";
import { sha256File, writeFileAtomic, tmpName, ensureFree, freeBytes, unpackEstimate } from "../effects/fsx.js";
import { kernelVersionFromMakefile } from "../core/kernel_version.js";
import type { Paths } from "../store/paths.js";
import { fileDigests, aptStateKey, cachedAnswer, rememberAnswer } from "../store/file_digests.js";
import type { Ui } from "../ui/log.js";
import { fmtDuration } from "../ui/log.js";

/** A fresh extraction of a base tree with its git index, made by this run's import. */
export interface Adoptable {
  dir: string;
  index: string;
}

export interface PreparedSource {
  name: string;
  entry: LockEntry;
  /**
   * A freshly extracted copy of the tree with its git index, when this run imported it. A warm
   * tree created in the same run adopts it by rename instead of checking 80,000 files out again;
   * whoever holds the value removes what nobody adopted (pipeline/sources.ts, withSources).
   */
  adoptable?: Adoptable;
}

export interface SourceContext {
  projectDir: string;
  paths: Paths;
  git: GitStore;
  ui: Ui;
}

export async function prepareSource(name: string, pin: Pin, locked: LockEntry | undefined, ctx: SourceContext): Promise<PreparedSource> {
  const declared = pinDeclHash(pin);
  const lockUsable = locked && locked.declared === declared ? locked : undefined;
  switch (pin.kind) {
    case "git":
      return prepareGit(name, pin, declared, lockUsable, ctx);
    case "url": {
      const sha = pin.sha256;
      const tarball = await cachedTarball(sha, ctx) ?? (await fetchUrl(pin.url, pin.mirrors, sha, ctx));
      return importTarball(name, tarball, sha, { declared, kind: "url", url: pin.url, timestamp: pin.timestamp }, ctx);
    }
    case "file": {
      const abs = isAbsolute(pin.path) ? pin.path : resolve(ctx.projectDir, pin.path);
      if (!existsSync(abs)) throw new ProjectError(`source "${name}": local tarball ${abs} does not exist`, { file: join(ctx.projectDir, "kiln.toml") });
      const sha = await sha256File(abs);
      const want = pin.sha256 ?? lockUsable?.tarball_sha256;
      if (want && want !== sha)
        throw new SourceError(`sha256 mismatch for ${abs}: expected ${want}, got ${sha}; nothing was extracted`, { file: abs }, "restore the original tarball, or update sha256 (and run `kiln lock --update`)");
      const tarball = (await cachedTarball(sha, ctx)) ?? storeTarball(abs, sha, ctx);
      return importTarball(name, tarball, sha, { declared, kind: "file", url: abs, timestamp: pin.timestamp }, ctx);
    }
    case "debian":
      return prepareDebian(name, pin, declared, lockUsable, ctx);
  }
}

// ---------- content cache ----------

function tarballPath(sha: string, ctx: SourceContext): string {
  return join(ctx.paths.downloads, "sha256", `${sha}.tar`);
}

async function cachedTarball(sha: string, ctx: SourceContext): Promise<string | undefined> {
  const p = tarballPath(sha, ctx);
  return existsSync(p) ? p : undefined;
}

function storeTarball(src: string, sha: string, ctx: SourceContext): string {
  const dest = tarballPath(sha, ctx);
  mkdirSync(join(ctx.paths.downloads, "sha256"), { recursive: true });
  const tmp = tmpName(dest);
  copyFileSync(src, tmp);
  renameSync(tmp, dest);
  return dest;
}

async function fetchUrl(url: string, mirrors: readonly string[], sha: string, ctx: SourceContext): Promise<string> {
  const dest = tarballPath(sha, ctx);
  ctx.ui.step("fetch", url);
  await downloadVerified([url, ...mirrors], sha, dest, ctx.ui);
  return dest;
}

// ---------- import into the object store ----------

interface ImportMeta {
  declared: string;
  kind: LockEntry["kind"];
  url?: string;
  timestamp?: number;
  package?: string;
  version?: string;
  deb_sha256?: string;
}

async function importTarball(name: string, tarball: string, sha: string, meta: ImportMeta, ctx: SourceContext): Promise<PreparedSource> {
  // One importer per tarball; a concurrent second one finds the record when it gets the lock.
  return withLock(join(ctx.paths.locks, `import-${sha.slice(0, 16)}.lock`), () => importLocked(name, tarball, sha, meta, ctx), {
    onWait: () => ctx.ui.step("unpack", `${name}: waiting for another kiln importing the same tarball`),
  });
}

async function importLocked(name: string, tarball: string, sha: string, meta: ImportMeta, ctx: SourceContext): Promise<PreparedSource> {
  const record = join(ctx.paths.git, "imports", `${sha}.json`);
  if (existsSync(record)) {
    const r = JSON.parse(readFileSync(record, "utf8")) as { tree: string; timestamp: number; kernel_version: string };
    if (await ctx.git.hasObject(r.tree)) {
      ctx.ui.debug(`source ${name}: tarball ${sha.slice(0, 12)} already imported as tree ${r.tree.slice(0, 12)}`);
      return { name, entry: entryFrom(meta, sha, r.tree, meta.timestamp ?? r.timestamp, r.kernel_version) };
    }
  }
  const t0 = Date.now();
  ctx.ui.step("unpack", `${name}: importing ${sha.slice(0, 12)} into the source store (once per tarball)`);
  mkdirSync(join(ctx.paths.git, "imports"), { recursive: true });
  ensureFree(join(ctx.paths.git, "imports"), unpackEstimate(tarball), `importing source "${name}" (${basename(tarball)})`);
  const tmp = mkdtempSync(join(ctx.paths.git, "imports", ".unpack-"));
  try {
    const freeBefore = freeBytes(tmp);
    await run(["tar", "-xf", tarball, "-C", tmp, "--no-same-owner", "--delay-directory-restore"]);
    const unpackedBytes = freeBefore - freeBytes(tmp);
    const tops = readdirSync(tmp);
    const top = tops.length === 1 && statSync(join(tmp, tops[0]!)).isDirectory() ? join(tmp, tops[0]!) : tmp;
    if (!existsSync(join(top, "Makefile")) || !existsSync(join(top, "Kconfig")))
      throw new SourceError(`the tarball for source "${name}" does not hold a kernel tree (no top-level Makefile and Kconfig)`, { file: tarball });
    const timestamp = Math.floor(statSync(top).mtimeMs / 1000);
    const index = `${tmp}.index`;
    await ctx.git.git(["add", "-A", "-f", "."], { index, workTree: top, cwd: top });
    const tree = await ctx.git.out(["write-tree"], { index, workTree: top });
    await ctx.git.keep("trees", tree);
    ctx.git.recordCheckoutBytes(tree, unpackedBytes);
    const kv = kernelVersionFromMakefile(readFileSync(join(top, "Makefile"), "utf8")) ?? "unknown";
    writeFileAtomic(record, JSON.stringify({ tree, timestamp, kernel_version: kv }));
    ctx.ui.step("unpack", `${name}: tree ${tree.slice(0, 12)} (${kv}) in ${fmtDuration(Date.now() - t0)}`);
    // The extraction can become a warm tree as it is: hand it over instead of deleting it.
    const adoptDir = join(ctx.paths.git, "imports", `.adopt-${tree}-${process.pid}`);
    renameSync(top, adoptDir);
    renameSync(index, `${adoptDir}.index`);
    return { name, entry: entryFrom(meta, sha, tree, meta.timestamp ?? timestamp, kv), adoptable: { dir: adoptDir, index: `${adoptDir}.index` } };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(`${tmp}.index`, { force: true });
  }
}

function entryFrom(meta: ImportMeta, sha: string, tree: string, timestamp: number, kv: string): LockEntry {
  return {
    declared: meta.declared,
    kind: meta.kind,
    ...(meta.package ? { package: meta.package } : {}),
    ...(meta.version ? { version: meta.version } : {}),
    ...(meta.deb_sha256 ? { deb_sha256: meta.deb_sha256 } : {}),
    ...(meta.url ? { url: meta.url } : {}),
    tarball_sha256: sha,
    tree,
    timestamp,
    kernel_version: kv,
  };
}

// ---------- Debian linux-source-X.Y ----------

export interface AptRecord {
  version: string;
  sha256: string;
  filename: string;
}

/** Pure: read `apt-cache show` output (one or more stanzas) into records. */
export function parseAptShow(text: string): AptRecord[] {
  return text
    .split(/\n\n+/)
    .map((st) => {
      const f = (k: string) => new RegExp(`^${k}: (.*)$`, "m").exec(st)?.[1]?.trim();
      const version = f("Version");
      const sha256 = f("SHA256");
      const filename = f("Filename");
      return version && sha256 && filename ? { version, sha256, filename } : undefined;
    })
    .filter((r): r is AptRecord => !!r);
}

async function prepareDebian(name: string, pin: Extract<Pin, { kind: "debian" }>, declared: string, locked: LockEntry | undefined, ctx: SourceContext): Promise<PreparedSource> {
  const pkg = pin.debian;
  // A locked tarball already in the content cache needs no archive at all: it keeps working
  // after the archive drops that version.
  if (locked?.tarball_sha256 && (await cachedTarball(locked.tarball_sha256, ctx))) {
    return importTarball(name, tarballPath(locked.tarball_sha256, ctx), locked.tarball_sha256, {
      declared, kind: "debian", package: pkg, version: locked.version, deb_sha256: locked.deb_sha256, url: locked.url, timestamp: locked.timestamp,
    }, ctx);
  }
  const want = pin.version ?? locked?.version;
  const show = await aptShow(want ? `${pkg}=${want}` : pkg, ctx);
  const recs = parseAptShow(show.stdout);
  const rec = recs[0];
  if (show.exitCode !== 0 || !rec) {
    if (want) {
      throw new LockError(
        `${pkg} version ${want} is no longer in the Debian archive (and not in kiln's download cache)`,
        { symbol: `source.${name}` },
        pin.version
          ? `set version in [source.${name}] to one the archive has (apt-cache policy ${pkg}), or remove it to follow the archive`
          : `re-pin to the archive's current version with: kiln lock --update ${name}`,
      );
    }
    throw new SourceError(`Debian package ${pkg} is not known to apt`, { symbol: `source.${name}` }, `run apt-get update; check the name with: apt-cache policy ${pkg}`);
  }
  // The installed package's tarball is the same bytes apt would download: use it after
  // checking it against dpkg's own record, instead of downloading 150 MB again.
  const installed = await run(["dpkg-query", "-W", "-f=${Version}", pkg], { allowFail: true });
  const usrTar = `/usr/src/${pkg}.tar.xz`;
  let tarSrc: string | undefined;
  let tmpDir: string | undefined;
  // The installed tarball's digests are remembered by file identity (store/file_digests.ts).
  const usrDigests = installed.exitCode === 0 && installed.stdout.trim() === rec.version && existsSync(usrTar) ? await fileDigests(ctx.paths.home, usrTar) : undefined;
  if (usrDigests && dpkgVerifies(pkg, `usr/src/${pkg}.tar.xz`, usrDigests.md5)) {
    tarSrc = usrTar;
  } else {
    tmpDir = mkdtempSync(join(ctx.paths.downloads, ".apt-"));
    ctx.ui.step("fetch", `${pkg}=${rec.version} through apt`);
    const dl = await run(["apt-get", "download", "-q", `${pkg}=${rec.version}`], { cwd: tmpDir, allowFail: true });
    const debs = readdirSync(tmpDir).filter((f) => f.endsWith(".deb"));
    if (dl.exitCode !== 0 || debs.length !== 1) {
      rmSync(tmpDir, { recursive: true, force: true });
      throw new SourceError(`apt-get download ${pkg}=${rec.version} failed:\n${dl.all.trim().split("\n").slice(-5).join("\n")}`, { symbol: `source.${name}` }, "check the network and apt sources (apt-get update)");
    }
    const deb = join(tmpDir, debs[0]!);
    const debSha = await sha256File(deb);
    if (debSha !== rec.sha256) {
      rmSync(tmpDir, { recursive: true, force: true });
      throw new SourceError(`sha256 mismatch for ${debs[0]}: expected ${rec.sha256} (from the signed archive index), got ${debSha}; deleted, nothing extracted`);
    }
    await run(["sh", "-c", 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "./usr/src/$3.tar.xz"', "sh", deb, tmpDir, pkg]);
    tarSrc = join(tmpDir, "usr", "src", `${pkg}.tar.xz`);
  }
  try {
    const sha = tarSrc === usrTar && usrDigests ? usrDigests.sha256 : await sha256File(tarSrc);
    const tarball = (await cachedTarball(sha, ctx)) ?? storeTarball(tarSrc, sha, ctx);
    const url = `debian:${rec.filename}`;
    return await importTarball(name, tarball, sha, { declared, kind: "debian", package: pkg, version: rec.version, deb_sha256: rec.sha256, url }, ctx);
  } finally {
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
  }
}

/**
 * `apt-cache show` of one package: a second or more when apt's binary cache cannot be written
 * (any non-root user), so the answer is remembered under a key of apt's lists, dpkg's status and
 * apt's configuration (store/file_digests.ts); `apt-get update` or an install asks apt again.
 */
async function aptShow(spec: string, ctx: SourceContext): Promise<{ stdout: string; exitCode: number }> {
  const state = aptStateKey();
  const hit = state ? cachedAnswer(ctx.paths.home, "apt-show", state, spec) : undefined;
  if (hit !== undefined) return { stdout: hit, exitCode: 0 };
  const r = await run(["apt-cache", "show", "--no-all-versions", spec], { allowFail: true });
  if (state && r.exitCode === 0 && parseAptShow(r.stdout).length) rememberAnswer(ctx.paths.home, "apt-show", state, spec, r.stdout);
  return { stdout: r.stdout, exitCode: r.exitCode };
}

/** Check an installed file's md5 against dpkg's md5sums record. */
function dpkgVerifies(pkg: string, relPath: string, md5: string): boolean {
  const sums = `/var/lib/dpkg/info/${pkg}.md5sums`;
  if (!existsSync(sums)) return false;
  const line = readFileSync(sums, "utf8").split("\n").find((l) => l.endsWith(`  ${relPath}`));
  if (!line) return false;
  return line.split(/\s+/)[0] === md5;
}

// ---------- git ----------

/** The repository a git pin names: a URL as written, a path relative to the project folder. */
export function gitPinUrl(pin: { git: string }, projectDir: string): string {
  return /^[a-z]+:\/\//.test(pin.git) || /^[^/]+@[^:]+:/.test(pin.git) ? pin.git : resolve(projectDir, pin.git);
}

async function prepareGit(name: string, pin: Extract<Pin, { kind: "git" }>, declared: string, locked: LockEntry | undefined, ctx: SourceContext): Promise<PreparedSource> {
  const url = gitPinUrl(pin, ctx.projectDir);
  let commit = locked?.commit;
  if (!commit || !(await ctx.git.hasObject(commit))) {
    const want = locked?.commit ?? pin.ref;
    ctx.ui.step("fetch", `${url} ${want}`);
    const tmpRef = `refs/kiln/fetch/${process.pid}-${Date.now()}`;
    const r = await ctx.git.git(["fetch", "--no-tags", "--quiet", url, `+${want}:${tmpRef}`], { allowFail: true });
    if (r.exitCode !== 0) {
      throw new SourceError(`cannot fetch ${want} from ${url}:\n${r.all.trim().split("\n").slice(-4).join("\n")}`, { url }, locked?.commit ? `the locked commit is gone from the remote; re-pin with: kiln lock --update ${name}` : "check the repository and ref");
    }
    commit = await ctx.git.out(["rev-parse", `${tmpRef}^{commit}`]);
    await ctx.git.git(["update-ref", "-d", tmpRef]);
    await ctx.git.keep("commits", commit);
  }
  const tree = await ctx.git.out(["rev-parse", `${commit}^{tree}`]);
  const timestamp = Number(await ctx.git.out(["log", "-1", "--format=%ct", commit]));
  const mk = await ctx.git.git(["show", `${tree}:Makefile`], { allowFail: true });
  const kv = kernelVersionFromMakefile(mk.stdout);
  if (!kv) throw new SourceError(`${url} at ${pin.ref} is not a kernel tree (no top-level Makefile with VERSION)`, { url });
  const tag = locked?.tag ?? (await isTag(url, pin.ref));
  return {
    name,
    entry: { declared, kind: "git", url, commit, tag, tree, timestamp, kernel_version: kv },
  };
}

async function isTag(url: string, ref: string): Promise<boolean> {
  const r = await run(["git", "ls-remote", "--tags", url, ref.startsWith("refs/") ? ref : `refs/tags/${ref}`], { allowFail: true });
  return r.exitCode === 0 && r.stdout.trim().length > 0;
}
