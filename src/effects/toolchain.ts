/**
 * Toolchain identity: the exact version and binary digest of every tool that changes output
 * bytes (compiler proper, assembler, linker, objcopy…), as one canonical string. Same packages
 * on another machine give the same string; a rebuilt compiler does not.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { run, which } from "./proc.js";
import { writeFileAtomic } from "./fsx.js";
import { HostError } from "../errors.js";
import { TOOLCHAINS, AUX_IDENTITY_TOOLS } from "../tables/toolchains.js";

export interface ToolId {
  name: string;
  path: string;
  version: string;
  sha256: string;
}

export interface ToolchainIdentity {
  toolchain: string;
  tools: ToolId[];
  /** The canonical string that enters the build identity. */
  canonical: string;
}

/**
 * What kiln learned about a binary (its first --version line, its sha256, for gcc its cc1),
 * keyed by path, size, mtime and inode: the same file is never hashed or run twice, across
 * runs when a cache file is given (KILN_HOME/toolchains.json), else within this process.
 */
interface Known {
  version?: string;
  sha256: string;
  cc1?: string;
}

class ToolFacts {
  private readonly map: Record<string, Known>;
  private dirty = false;

  constructor(private readonly file?: string) {
    let m: Record<string, Known> = {};
    if (file && existsSync(file)) {
      try {
        m = JSON.parse(readFileSync(file, "utf8")) as Record<string, Known>;
      } catch {
        m = {}; // a damaged cache is rebuilt
      }
    }
    this.map = m;
  }

  /** The name it is run by matters: gcc prints the name it was called by in --version. */
  private key(invoked: string, real: string): string {
    const st = statSync(real);
    return `${invoked}\0${real}\0${st.size}\0${st.mtimeMs}\0${st.ino}`;
  }

  /** The facts for a binary run as `invoked`; the version is read only when asked for. */
  async of(invoked: string, real: string, withVersion: boolean): Promise<Known> {
    const k = this.key(invoked, real);
    let f = this.map[k];
    if (!f) {
      f = { sha256: createHash("sha256").update(readFileSync(real)).digest("hex") };
      this.map[k] = f;
      this.dirty = true;
    }
    if (withVersion && f.version === undefined) {
      const v = await run([invoked, "--version"], { allowFail: true });
      f.version = (v.stdout.split("\n")[0] ?? "").trim();
      this.dirty = true;
    }
    return f;
  }

  /** The compiler proper behind a driver (`<driver> -print-prog-name=<prog>`, e.g. gcc's cc1). */
  async cc1(gcc: string, gccReal: string, prog = "cc1"): Promise<string | undefined> {
    const f = await this.of(gcc, gccReal, true);
    if (f.cc1 === undefined) {
      f.cc1 = (await run([gcc, `-print-prog-name=${prog}`], { allowFail: true })).stdout.trim();
      this.dirty = true;
    }
    return f.cc1.startsWith("/") ? f.cc1 : undefined;
  }

  save(): void {
    if (this.file && this.dirty) writeFileAtomic(this.file, JSON.stringify(this.map));
  }
}

const processFacts = new ToolFacts();

async function toolId(facts: ToolFacts, name: string, required: boolean): Promise<ToolId | undefined> {
  const p = await which(name);
  if (!p) {
    if (required) throw new HostError(`${name} is not installed`, {}, "run `kiln doctor --install` (cross compilers come from Debian's gcc-<arch>-linux-gnu packages)");
    return undefined;
  }
  const real = realpathSync(p);
  const f = await facts.of(p, real, true);
  return { name, path: real, version: f.version ?? "", sha256: f.sha256 };
}

/** The toolchain's identity. cacheFile keeps binary facts across runs (see ToolFacts). */
export async function toolchainIdentity(toolchain: string, prefix: string, cacheFile?: string): Promise<ToolchainIdentity> {
  const spec = TOOLCHAINS[toolchain];
  if (!spec) throw new HostError(`unknown toolchain ${toolchain}`);
  const facts = cacheFile ? new ToolFacts(cacheFile) : processFacts;
  const pre = spec.usesCrossPrefix ? prefix : "";
  const tools: ToolId[] = [];
  for (const t of spec.identityTools) {
    const id = await toolId(facts, t.replace("{prefix}", pre), true);
    tools.push(id!);
  }
  // The compiler proper is the real bytes behind the driver.
  if (spec.compilerProper) {
    const cc = spec.cc.replace("{prefix}", pre);
    const cc1 = await facts.cc1(cc, tools[0]!.path, spec.compilerProper);
    if (cc1) {
      const real = realpathSync(cc1);
      tools.push({ name: spec.compilerProper, path: real, version: tools[0]!.version, sha256: (await facts.of(cc1, real, false)).sha256 });
    }
  }
  for (const t of AUX_IDENTITY_TOOLS) {
    const id = await toolId(facts, t, false);
    if (id) tools.push(id);
  }
  facts.save();
  // Paths are not part of the identity: the same package installs to the same bytes anywhere.
  const canonical = [`toolchain=${toolchain}`, ...tools.map((t) => `${t.name}\t${t.version}\t${t.sha256}`)].join("\n");
  return { toolchain, tools, canonical };
}
