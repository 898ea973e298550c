/**
 * Byte comparison of two builds' outputs for the reproducibility gate: two artifacts
 * (tar.zst) or two folders. Lists the files that differ and, for ELF files, the first
 * differing section.
 */
import { createHash } from "node:crypto";
import { readdirSync, lstatSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { start } from "../effects/proc.js";
import { TarReader, type TarEntryHeader } from "./tar.js";
import { firstDifferingSection } from "../core/elf.js";
import { InfraError } from "../errors.js";

export interface FileFacts {
  type: string;
  size: number;
  mode: number;
  sha256: string;
  linkname?: string;
  /** The bytes, kept only for ELF files asked for, to find the differing section. */
  elf?: Buffer;
  /** Where a folder's file is, to read it again when it differs. */
  source?: string;
}

export interface Difference {
  path: string;
  what: string;
}

const ELF_KEEP_LIMIT = 512 << 20;

function isElf(b: Buffer): boolean {
  return b.length >= 4 && b.readUInt32BE(0) === 0x7f454c46;
}

function readElfOrUndefined(p: string): Buffer | undefined {
  const b = readFileSync(p);
  return isElf(b) ? b : undefined;
}

/** Compares two maps of file facts (reads differing files of folders again). */
export function diffFacts(a: Map<string, FileFacts>, b: Map<string, FileFacts>): Difference[] {
  const out: Difference[] = [];
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  for (const p of paths) {
    const x = a.get(p);
    const y = b.get(p);
    if (!x) out.push({ path: p, what: "only in the second" });
    else if (!y) out.push({ path: p, what: "only in the first" });
    else if (x.type !== y.type) out.push({ path: p, what: `type ${x.type} vs ${y.type}` });
    else if (x.linkname !== y.linkname) out.push({ path: p, what: `link ${x.linkname} vs ${y.linkname}` });
    else if (x.sha256 !== y.sha256) {
      const xa = x.elf ?? (x.source ? readElfOrUndefined(x.source) : undefined);
      const ya = y.elf ?? (y.source ? readElfOrUndefined(y.source) : undefined);
      const elf = xa && ya ? `; ELF ${firstDifferingSection(xa, ya)}` : "";
      out.push({ path: p, what: `content differs (${x.size} vs ${y.size} bytes)${elf}` });
    } else if (x.mode !== y.mode) out.push({ path: p, what: `mode ${x.mode.toString(8)} vs ${y.mode.toString(8)}` });
  }
  return out;
}

/** Facts about every entry of a tar.zst; the bytes of ELF files in `keep` are kept. */
export async function artifactFacts(path: string, keep: Set<string> = new Set()): Promise<Map<string, FileFacts>> {
  const facts = new Map<string, FileFacts>();
  let hash = createHash("sha256");
  let head: Buffer[] = [];
  let kept = 0;
  const reader = new TarReader({
    entry: (h: TarEntryHeader) => {
      hash = createHash("sha256");
      head = [];
      kept = 0;
      if (h.type !== "file") facts.set(h.path, { type: h.type, size: 0, mode: h.mode, sha256: "", linkname: h.linkname || undefined });
    },
    data: (_h, c) => {
      hash.update(c);
      if (keep.has(_h.path) && kept < ELF_KEEP_LIMIT) {
        head.push(Buffer.from(c));
        kept += c.length;
      }
    },
    end: (h) => {
      const all = keep.has(h.path) && kept <= ELF_KEEP_LIMIT ? Buffer.concat(head) : undefined;
      facts.set(h.path, { type: "file", size: h.size, mode: h.mode, sha256: hash.digest("hex"), elf: all && isElf(all) ? all : undefined });
    },
  });
  const proc = start(["zstd", "-d", "-c", "-q", "--no-progress", "--", path], { stderr: "ignore", missingHint: "apt-get install zstd" });
  proc.done.catch(() => undefined);
  for await (const chunk of proc.stdout as AsyncIterable<Buffer>) reader.write(chunk);
  const r = await proc.done;
  if (r.exitCode !== 0) throw new InfraError(`zstd could not read the artifact (exit ${r.exitCode})`, { file: path });
  reader.finish();
  return facts;
}

/** Facts about every file, folder and link under `root`. */
export function treeFacts(root: string): Map<string, FileFacts> {
  const facts = new Map<string, FileFacts>();
  const walk = (rel: string) => {
    for (const name of readdirSync(rel ? join(root, rel) : root).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(root, r);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        facts.set(r, { type: "dir", size: 0, mode: st.mode & 0o7777, sha256: "" });
        walk(r);
      } else if (st.isSymbolicLink()) facts.set(r, { type: "symlink", size: 0, mode: 0o777, sha256: "", linkname: readlinkSync(p) });
      else if (st.isFile()) {
        const b = readFileSync(p);
        facts.set(r, { type: "file", size: st.size, mode: st.mode & 0o7777, sha256: createHash("sha256").update(b).digest("hex"), source: p });
      } else facts.set(r, { type: "other", size: 0, mode: st.mode & 0o7777, sha256: "" });
    }
  };
  walk("");
  return facts;
}

/** Two passes: digests first, then the bytes of the files that differ, for ELF sections. */
export async function compareArtifacts(a: string, b: string): Promise<Difference[]> {
  const fa = await artifactFacts(a);
  const fb = await artifactFacts(b);
  const differing = new Set([...fa.keys()].filter((p) => fb.has(p) && fa.get(p)!.type === "file" && fa.get(p)!.sha256 !== fb.get(p)!.sha256));
  if (differing.size === 0) return diffFacts(fa, fb);
  return diffFacts(await artifactFacts(a, differing), await artifactFacts(b, differing));
}

export function compareTrees(a: string, b: string): Difference[] {
  return diffFacts(treeFacts(a), treeFacts(b));
}

export function renderDifferences(d: Difference[], a: string, b: string): string {
  if (d.length === 0) return `${a} and ${b} are byte-identical`;
  return [`${d.length} difference(s) between ${a} and ${b}:`, ...d.map((x) => `  ${x.path}: ${x.what}`)].join("\n");
}
