/**
 * Checks of the RPM packages kbuild's `binrpm-pkg` makes: fields through `rpm -qip`, the file
 * list through `rpm -qlp`, and an install into a throwaway root with
 * `rpm --root <dir> --dbpath /var/lib/rpm --nodeps --noscripts -i` (the database is kept inside
 * that root, so nothing on the host changes). See docs/adr/0058.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { run } from "../effects/proc.js";
import { GateFailure, InfraError } from "../errors.js";

export interface RpmInfo {
  path: string;
  fields: Record<string, string>;
  name: string;
  version: string;
  release: string;
  architecture: string;
  files: string[];
}

async function rpmQuery(args: string[], file: string): Promise<string> {
  const r = await run(["rpm", ...args], { allowFail: true, env: { LC_ALL: "C" }, missingHint: "apt-get install rpm" });
  if (r.exitCode !== 0) throw new InfraError(`rpm ${args.join(" ")} failed: ${r.stderr.trim()}`, { file }, "the file is damaged or not an RPM package");
  return r.stdout;
}

/**
 * Parses `rpm -qip` output: "Name        : kernel" lines, two fields to a line in older rpm
 * versions, and a Description block at the end. Pure.
 */
export function parseRpmInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const m = /^([A-Z][A-Za-z ]*?)\s*:\s?(.*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.trim();
    if (key === "Description") {
      out[key] = lines.slice(i + 1).join("\n").trim();
      break;
    }
    out[key] = m[2]!.trim();
  }
  return out;
}

/** `rpm -qlp` lists one absolute path per line ("(contains no files)" for an empty package). Pure. */
export function parseRpmList(text: string): string[] {
  return text.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("/"));
}

export async function inspectRpm(path: string): Promise<RpmInfo> {
  const fields = parseRpmInfo(await rpmQuery(["-qip", path], path));
  const files = parseRpmList(await rpmQuery(["-qlp", path], path));
  return { path, fields, name: fields.Name ?? "", version: fields.Version ?? "", release: fields.Release ?? "", architecture: fields.Architecture ?? "", files };
}

/** The RPM Version kbuild's kernel.spec gives a release: '-' becomes '_'. Pure. */
export function rpmVersionOf(release: string): string {
  return release.replace(/-/g, "_");
}

/** What the kernel package of `release` must hold. Returns problems (empty = fine). Pure. */
export function checkKernelRpm(info: RpmInfo, release: string, opts: { modules: boolean }): string[] {
  const problems: string[] = [];
  if (info.name !== "kernel") problems.push(`package is ${info.name}, expected kernel`);
  if (info.version !== rpmVersionOf(release)) problems.push(`version is ${info.version}, expected ${rpmVersionOf(release)}`);
  const has = (p: string) => info.files.includes(p);
  for (const f of [`/lib/modules/${release}/vmlinuz`, `/lib/modules/${release}/System.map`, `/lib/modules/${release}/config`]) if (!has(f)) problems.push(`${f} is missing`);
  if (opts.modules && !info.files.some((f) => f.startsWith(`/lib/modules/${release}/kernel/`))) problems.push(`/lib/modules/${release}/kernel/ (the modules) is missing`);
  for (const f of info.files) if (f.split("/").includes("..")) problems.push(`unsafe path ${f}`);
  return problems;
}

/**
 * Installs packages into `root` (created) without their scripts or dependency checks, the way
 * a test can: rpm keeps the database under `root`, nothing on the host changes.
 */
export async function installRpmsInto(rpms: string[], root: string): Promise<void> {
  mkdirSync(root, { recursive: true });
  // --dbpath is taken inside the root: Debian's rpm would otherwise use <root>/root/.rpmdb
  const r = await run(["rpm", "--root", root, "--dbpath", "/var/lib/rpm", "--nodeps", "--noscripts", "-i", ...rpms], { allowFail: true, env: { LC_ALL: "C" }, missingHint: "apt-get install rpm" });
  if (r.exitCode !== 0) throw new InfraError(`rpm --root ${root} -i failed: ${r.all.trim()}`, { file: rpms[0]! }, "see rpm's message above");
}

/** Gate form: throws GateFailure listing the problems; with `root`, also installs there. */
export async function assertKernelRpm(path: string, release: string, opts: { modules: boolean; root?: string }): Promise<RpmInfo> {
  const info = await inspectRpm(path);
  const problems = checkKernelRpm(info, release, opts);
  if (opts.root) {
    await installRpmsInto([path], opts.root);
    if (!existsSync(join(opts.root, "lib", "modules", release, "vmlinuz"))) problems.push(`installing into ${opts.root} gave no lib/modules/${release}/vmlinuz`);
  }
  if (problems.length) throw new GateFailure(`RPM package check failed:\n  ${problems.join("\n  ")}`, { file: path }, "check the binrpm-pkg build output");
  return info;
}
