/**
 * Build identity (docs/adr/0003-identity.md). Pure: no files, no processes.
 *
 *   digest  = sha256( config-without-LOCALVERSION \0 toolchain \0 make-flags(blanked) \0 source-tree-hash )[0:12]
 *   release = <kernelversion>-<label>-<digest>   (or <kernelversion>-<digest> with no label)
 */
import { createHash } from "node:crypto";

export const DIGEST_LEN = 12;
export const UTS_LEN = 64;

export interface IdentityInputs {
  /** The .config text after configuration. */
  config: string;
  /** A canonical string that pins the exact toolchain (see effects/toolchain.ts). */
  toolchain: string;
  /** The make variables that affect output bytes, in order. */
  makeFlags: readonly string[];
  /** Content hash of the prepared source tree (git tree object id). */
  sourceTree: string;
}

/** Remove every line that starts with CONFIG_LOCALVERSION= (the baked identity itself). */
export function stripLocalversion(config: string): string {
  return config
    .split("\n")
    .filter((l) => !l.startsWith("CONFIG_LOCALVERSION="))
    .join("\n");
}

const PREFIX_MAP = /(-f(?:debug|file|macro)-prefix-map=)([^\s=]*)=/g;

/** Blank the host-path part of every -f*-prefix-map=<path>= so the folder does not change the identity. */
export function blankHostPaths(flag: string): string {
  return flag.replace(PREFIX_MAP, "$1=");
}

export function normaliseMakeFlags(flags: readonly string[]): string {
  return flags.map(blankHostPaths).join(" ");
}

export function computeDigest(inp: IdentityInputs): string {
  const parts = [
    stripLocalversion(inp.config),
    inp.toolchain,
    normaliseMakeFlags(inp.makeFlags),
    inp.sourceTree,
  ];
  return createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, DIGEST_LEN);
}

/** Slug: runs of characters outside [A-Za-z0-9._-] become "-", strip -._ at both ends, lower-case. */
export function slugify(s: string): string {
  return s
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[-._]+|[-._]+$/g, "")
    .toLowerCase();
}

const REV_SUFFIX = /-v([0-9]+)$/;

/**
 * Fit a label into the release budget: 64 - len(kernelversion) - 14.
 * Cut at the last "-" inside the budget, strip trailing -._; a trailing -v<N> is always kept.
 */
export function fitLabel(label: string, kernelVersion: string): string {
  const budget = UTS_LEN - kernelVersion.length - (DIGEST_LEN + 2);
  if (budget <= 0) return "";
  if (label.length <= budget) return label;
  const rev = REV_SUFFIX.exec(label);
  const suffix = rev ? rev[0] : "";
  const stem = rev ? label.slice(0, label.length - suffix.length) : label;
  const room = budget - suffix.length;
  if (room <= 0) return suffix.replace(/^-/, "").slice(0, budget);
  let cut = stem.slice(0, room);
  // Cut at the last "-" inside the budget when the cut fell inside a word.
  if (stem.length > room && stem[room] !== "-") {
    const dash = cut.lastIndexOf("-");
    if (dash > 0) cut = cut.slice(0, dash);
  }
  cut = cut.replace(/[-._]+$/g, "");
  return cut ? cut + suffix : suffix.replace(/^-/, "");
}

export interface LabelSource {
  /** Explicit label from the project or the command line. */
  explicit?: string;
  /** Subject of the series cover (or first patch) when a mailed series is applied. */
  seriesSubject?: string;
  /** True when the source is an upstream release (tag, tarball, distro package) with no series. */
  upstreamRelease?: boolean;
  /** The git ref (branch or SHA) otherwise. */
  ref?: string;
}

/** Read the revision N of a series subject: "[PATCH v3 0/5] ..." or a trailing " v3". */
export function seriesRevision(subject: string): number | undefined {
  const br = /\[[^\]]*\bv([0-9]+)\b[^\]]*\]/i.exec(subject);
  if (br) return Number(br[1]);
  const tail = /(?:^|\s)v([0-9]+)\s*$/i.exec(subject);
  return tail ? Number(tail[1]) : undefined;
}

/** Label precedence: explicit; series subject (+-vN for N>=2); vanilla; slug of ref. */
export function inferLabel(src: LabelSource): string {
  if (src.explicit !== undefined) return slugify(src.explicit);
  if (src.seriesSubject) {
    const rev = seriesRevision(src.seriesSubject);
    const title = src.seriesSubject
      .replace(/^\s*(\[[^\]]*\]\s*)+/, "")
      .replace(/\s+v[0-9]+\s*$/i, "");
    const slug = slugify(title);
    return rev !== undefined && rev >= 2 ? `${slug}-v${rev}` : slug;
  }
  if (src.upstreamRelease) return "vanilla";
  return src.ref ? slugify(src.ref) : "";
}

/**
 * Strip a previously baked identity suffix so baking is idempotent: the trailing
 * "-<12 hex>" and, when the label is known, the "-<label>" in front of it.
 */
export function stripBakedSuffix(localversion: string, label?: string): string {
  let v = localversion.replace(/-[0-9a-f]{12}$/, "");
  if (v !== localversion && label && v.endsWith(`-${label}`)) v = v.slice(0, -(label.length + 1));
  return v;
}

/** The CONFIG_LOCALVERSION value to bake: a user prefix kept, a previous identity suffix replaced. */
export function bakeLocalversion(existing: string, label: string, digest: string): string {
  const base = stripBakedSuffix(existing, label);
  return label ? `${base}-${label}-${digest}` : `${base}-${digest}`;
}

export function releaseString(kernelVersion: string, label: string, digest: string): string {
  const fitted = fitLabel(label, kernelVersion);
  return fitted ? `${kernelVersion}-${fitted}-${digest}` : `${kernelVersion}-${digest}`;
}

// ------------------------------------------------------------------ names at boundaries

export type NameKind = "name" | "release" | "arch" | "tag" | "version";

/**
 * Why `value` is not a valid `kind`, or undefined. A release is what `uname -r` shows
 * (<kernelversion>[-<label>]-<digest>, at most 64 characters); a name, arch, tag or version is
 * a plain word. None may be "." or "..", hold a separator or a control character, or start
 * with "-" or ".": each becomes a file or folder name. Pure.
 */
export function nameProblem(kind: NameKind, value: string): string | undefined {
  if (typeof value !== "string" || value === "") return "it is empty";
  if (/[\x00-\x1f\x7f]/.test(value)) return "it holds a control character";
  if (value.includes("/") || value.includes("\\")) return "it holds a path separator";
  if (value === "." || value === "..") return `"${value}" is not a name`;
  const max = kind === "release" ? UTS_LEN : 128;
  if (value.length > max) return `it is longer than ${max} characters`;
  const shape: Record<NameKind, [RegExp, string]> = {
    name: [/^[a-z0-9][a-z0-9._-]*$/, "lower-case letters, digits, . _ - (starting with a letter or digit)"],
    release: [/^[0-9][A-Za-z0-9._+~-]*$/, "a kernel release: a digit first, then letters, digits, . _ + ~ -"],
    arch: [/^[a-z0-9][a-z0-9_]*$/, "lower-case letters, digits and _"],
    tag: [/^v[0-9][A-Za-z0-9._+~-]*$/, "v<version> or v<version>-r<N>"],
    version: [/^[A-Za-z0-9][A-Za-z0-9._+~-]*$/, "letters, digits, . _ + ~ - (not starting with . or -)"],
  };
  const [re, what] = shape[kind];
  if (!re.test(value)) return `expected ${what}`;
  return undefined;
}

/** A name with control characters shown as \xNN, for messages. Pure. */
export function printable(s: string): string {
  return JSON.stringify(String(s)).slice(1, -1).replace(/\\u00([0-9a-f]{2})/gi, "\\x$1");
}
