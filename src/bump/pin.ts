/**
 * The new pin of a bump, pure: from the current pin and the command line
 * (`--to <linux-source-X.Y | Debian version | declared source>`, `--url U --sha256 S`, `--ref R`),
 * and the kiln.toml edit that `--apply` makes ([source.<name>]'s keys replaced, comments kept).
 */
import { ProjectError } from "../errors.js";
import type { Pin } from "../project/schema.js";

export interface PinRequest {
  to?: string;
  url?: string;
  sha256?: string;
  ref?: string;
}

export interface NewPin {
  pin: Pin;
  /** How the pin was asked for, for the report: "--to linux-source-6.12". */
  asked: string;
}

const DEB_PACKAGE = /^linux-source-[0-9]+\.[0-9]+$/;
/** A Debian package version of linux-source: 6.12.57-1, 6.1.119-1~deb11u1, 6.12~rc7-1~exp1. */
const DEB_VERSION = /^(?:\d+:)?(\d+)\.(\d+)[.~+\-0-9a-z]*$/i;

export function newPinFor(pins: Readonly<Record<string, Pin>>, source: string, r: PinRequest, file?: string): NewPin {
  const cur = pins[source];
  if (!cur) throw new ProjectError(`source "${source}" is not declared in kiln.toml`, file ? { file } : {}, `bump one of: ${Object.keys(pins).join(", ") || "(none declared)"}`);
  const given = [r.to !== undefined && "--to", (r.url !== undefined || r.sha256 !== undefined) && "--url/--sha256", r.ref !== undefined && "--ref"].filter(Boolean);
  if (given.length !== 1) throw new ProjectError(given.length ? `give one of --to, --url/--sha256, --ref (got ${given.join(" and ")})` : `kiln bump ${source} needs the new version`, {}, `e.g. kiln bump ${source} --to linux-source-6.12, --to <a [source.X] of kiln.toml>, --url U --sha256 S, or --ref <git ref>`);
  if (r.ref !== undefined) {
    if (cur.kind !== "git") throw new ProjectError(`--ref needs a git pin; source "${source}" is a ${cur.kind} pin`, file ? { file } : {}, "use --to for a Debian pin or --url/--sha256 for a tarball");
    return { pin: { kind: "git", git: cur.git, ref: r.ref }, asked: `--ref ${r.ref}` };
  }
  if (r.url !== undefined || r.sha256 !== undefined) {
    if (!r.url || !r.sha256) throw new ProjectError("--url and --sha256 go together", {}, "give the tarball's URL and its sha256 (64 lower-case hex characters)");
    if (!/^https?:\/\/\S+$/.test(r.url)) throw new ProjectError(`--url ${r.url}: expected an http:// or https:// URL`, {});
    if (!/^[0-9a-f]{64}$/.test(r.sha256)) throw new ProjectError(`--sha256 ${r.sha256}: expected 64 lower-case hex characters`, {});
    return { pin: { kind: "url", url: r.url, sha256: r.sha256, mirrors: [] }, asked: `--url ${r.url} --sha256 ${r.sha256}` };
  }
  const to = r.to!;
  if (to in pins) {
    if (to === source) throw new ProjectError(`--to ${to} is the source being bumped`, file ? { file } : {}, `name the new version: a package (linux-source-X.Y), a Debian version, or another [source.X]`);
    return { pin: pins[to]!, asked: `--to ${to} ([source.${to}])` };
  }
  if (DEB_PACKAGE.test(to)) return { pin: { kind: "debian", debian: to }, asked: `--to ${to}` };
  // a bare series ("6.12") names the package, not a version
  if (/^\d+\.\d+$/.test(to)) return { pin: { kind: "debian", debian: `linux-source-${to}` }, asked: `--to ${to}` };
  const m = DEB_VERSION.exec(to);
  if (m) return { pin: { kind: "debian", debian: `linux-source-${m[1]}.${m[2]}`, version: to }, asked: `--to ${to}` };
  throw new ProjectError(`--to ${to}: not a declared source, a Debian package (linux-source-X.Y) or a Debian version`, file ? { file } : {}, `declared sources: ${Object.keys(pins).join(", ")}`);
}

/** The TOML lines of a pin, as kiln.toml writes them. */
export function pinLines(pin: Pin): string[] {
  const q = (s: string) => JSON.stringify(s);
  switch (pin.kind) {
    case "debian":
      return [`debian = ${q(pin.debian)}`, ...(pin.version ? [`version = ${q(pin.version)}`] : []), ...(pin.timestamp !== undefined ? [`timestamp = ${pin.timestamp}`] : [])];
    case "url":
      return [`url = ${q(pin.url)}`, `sha256 = ${q(pin.sha256)}`, ...(pin.mirrors.length ? [`mirrors = [${pin.mirrors.map(q).join(", ")}]`] : []), ...(pin.timestamp !== undefined ? [`timestamp = ${pin.timestamp}`] : [])];
    case "file":
      return [`path = ${q(pin.path)}`, ...(pin.sha256 ? [`sha256 = ${q(pin.sha256)}`] : []), ...(pin.timestamp !== undefined ? [`timestamp = ${pin.timestamp}`] : [])];
    case "git":
      return [`git = ${q(pin.git)}`, `ref = ${q(pin.ref)}`];
  }
}

/**
 * kiln.toml with [source.<name>]'s key lines replaced by the pin's (comments and blank lines of the
 * table kept, the new keys where the first old key was). Throws when the table is not a plain one.
 */
export function rewritePinTable(text: string, name: string, pin: Pin, file = "kiln.toml"): string {
  const lines = text.split("\n");
  const hdr = new RegExp(`^\\s*\\[\\s*source\\.(?:${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}|"${name}")\\s*\\]\\s*(#.*)?$`);
  const start = lines.findIndex((l) => hdr.test(l));
  if (start < 0) throw new ProjectError(`kiln.toml has no [source.${name}] table to rewrite`, { file }, `write the new pin by hand: ${pinLines(pin).join("; ")}`);
  let end = start + 1;
  while (end < lines.length && !/^\s*\[/.test(lines[end]!)) end++;
  const body = lines.slice(start + 1, end);
  const firstKey = body.findIndex((l) => /^\s*[A-Za-z0-9_"-]+\s*=/.test(l));
  if (body.some((l) => /=\s*\[\s*$/.test(l) || /"""|'''/.test(l))) throw new ProjectError(`[source.${name}] in kiln.toml spans lines kiln does not rewrite`, { file, line: start + 1 }, `write the new pin by hand: ${pinLines(pin).join("; ")}`);
  const kept = body.filter((l) => !/^\s*[A-Za-z0-9_"-]+\s*=/.test(l));
  const at = firstKey < 0 ? 0 : body.slice(0, firstKey).filter((l) => !/^\s*[A-Za-z0-9_"-]+\s*=/.test(l)).length;
  const next = [...kept.slice(0, at), ...pinLines(pin), ...kept.slice(at)];
  return [...lines.slice(0, start + 1), ...next, ...lines.slice(end)].join("\n");
}
