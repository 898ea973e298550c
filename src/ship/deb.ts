/**
 * Checks of the Debian packages kbuild's `bindeb-pkg` makes: fields and contents through
 * `dpkg-deb`, plus an extraction into a throwaway root (dpkg-deb -x) to see the files land.
 * (Running the packages' maintainer scripts needs a real Debian root; see docs/adr/0036.)
 */
import { run } from "../effects/proc.js";
import { mkdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { InfraError, GateFailure } from "../errors.js";

export interface DebEntry {
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  size: number;
  mode: string;
}

export interface DebInfo {
  path: string;
  fields: Record<string, string>;
  package: string;
  version: string;
  architecture: string;
  entries: DebEntry[];
}

async function dpkgDeb(args: string[], deb: string): Promise<string> {
  const r = await run(["dpkg-deb", ...args], { allowFail: true, missingHint: "apt-get install dpkg" });
  if (r.exitCode !== 0) {
    throw new InfraError(`dpkg-deb ${args[0]} failed: ${r.stderr.trim()}`, { file: deb }, "the package is corrupt or not a .deb");
  }
  return r.stdout;
}

/** Parses `dpkg-deb --contents` (tar -tv style) lines. Pure. */
export function parseDebContents(text: string): DebEntry[] {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => {
      const m = /^(\S)(\S{9})\s+\S+\s+(\d+)\s+\S+\s+\S+\s+(.+?)(?: -> .*)?$/.exec(l);
      if (!m) return { path: l, type: "other" as const, size: 0, mode: "" };
      const t = m[1] === "-" ? "file" : m[1] === "d" ? "dir" : m[1] === "l" ? "symlink" : "other";
      return { path: m[4]!.replace(/^\.\//, "").replace(/\/$/, ""), type: t, size: Number(m[3]), mode: m[2]! };
    });
}

/** Parses `dpkg-deb --field` output (RFC822-style, continuation lines joined). Pure. */
export function parseDebFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let last = "";
  for (const line of text.split("\n")) {
    if (/^\s/.test(line) && last) out[last] += `\n${line.trim()}`;
    else {
      const i = line.indexOf(":");
      if (i > 0) {
        last = line.slice(0, i);
        out[last] = line.slice(i + 1).trim();
      }
    }
  }
  return out;
}

export async function inspectDeb(path: string): Promise<DebInfo> {
  const fields = parseDebFields(await dpkgDeb(["--field", path], path));
  const entries = parseDebContents(await dpkgDeb(["--contents", path], path));
  return { path, fields, package: fields.Package ?? "", version: fields.Version ?? "", architecture: fields.Architecture ?? "", entries };
}

/**
 * What a kernel image package for `release` must hold. Returns problems (empty = fine). Pure.
 * Modules are required only when the build has them.
 */
export function checkKernelImageDeb(info: DebInfo, release: string, opts: { modules: boolean | readonly string[] }): string[] {
  const problems: string[] = [];
  const has = (p: string, t?: DebEntry["type"]) => info.entries.some((e) => e.path === p && (!t || e.type === t));
  if (info.package !== `linux-image-${release}`) problems.push(`package is ${info.package}, expected linux-image-${release}`);
  for (const f of [`boot/vmlinuz-${release}`, `boot/System.map-${release}`, `boot/config-${release}`]) {
    if (!has(f, "file")) problems.push(`${f} is missing`);
  }
  if (opts.modules && !info.entries.some((e) => e.path.startsWith(`lib/modules/${release}/`))) problems.push(`lib/modules/${release}/ is missing`);
  else if (Array.isArray(opts.modules)) {
    // every module the store entry holds (paths under lib/modules/<release>/)
    const missing = opts.modules.filter((m) => !has(`lib/modules/${release}/${m}`, "file"));
    if (missing.length) problems.push(`${missing.length} of the build's ${opts.modules.length} module(s) are missing: ${missing.slice(0, 5).map((m) => `lib/modules/${release}/${m}`).join(", ")}${missing.length > 5 ? ", ..." : ""}`);
  }
  for (const e of info.entries) {
    if (e.path.startsWith("/") || e.path.split("/").includes("..")) problems.push(`unsafe path ${e.path}`);
  }
  return problems;
}

/** Extracts packages into `root` (created), as dpkg would place their files. */
export async function extractDebs(debs: string[], root: string): Promise<void> {
  mkdirSync(root, { recursive: true });
  for (const d of debs) {
    const r = await run(["dpkg-deb", "-x", d, root], { allowFail: true, missingHint: "apt-get install dpkg" });
    if (r.exitCode !== 0) throw new InfraError(`dpkg-deb -x failed: ${r.stderr.trim()}`, { file: d });
  }
}

/** Gate form: throws GateFailure listing the problems. */
export async function assertKernelDeb(path: string, release: string, opts: { modules: boolean | readonly string[]; root?: string }): Promise<DebInfo> {
  const info = await inspectDeb(path);
  const problems = checkKernelImageDeb(info, release, opts);
  if (opts.root) {
    await extractDebs([path], opts.root);
    if (!existsSync(join(opts.root, "boot", `vmlinuz-${release}`))) problems.push(`extracting into ${opts.root} gave no boot/vmlinuz-${release}`);
  }
  if (problems.length) throw new GateFailure(`Debian package check failed:\n  ${problems.join("\n  ")}`, { file: path }, "check the bindeb-pkg build output");
  return info;
}
