/**
 * Toolchain identity: the exact version and binary digest of every tool that changes output
 * bytes (compiler proper, assembler, linker, objcopy…), as one canonical string. Same packages
 * on another machine give the same string; a rebuilt compiler does not.
 */
import { createHash } from "node:crypto";
import { readFileSync, realpathSync, statSync } from "node:fs";
import { run, which } from "./proc.js";
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

const digestCache = new Map<string, string>();

function fileDigest(path: string): string {
  const st = statSync(path);
  const key = `${path}:${st.size}:${st.mtimeMs}`;
  let d = digestCache.get(key);
  if (!d) {
    d = createHash("sha256").update(readFileSync(path)).digest("hex");
    digestCache.set(key, d);
  }
  return d;
}

async function toolId(name: string, required: boolean): Promise<ToolId | undefined> {
  const p = await which(name);
  if (!p) {
    if (required) throw new HostError(`${name} is not installed`, {}, "run `kiln doctor --install` (cross compilers come from Debian's gcc-<arch>-linux-gnu packages)");
    return undefined;
  }
  const real = realpathSync(p);
  const v = await run([p, "--version"], { allowFail: true });
  const version = (v.stdout.split("\n")[0] ?? "").trim();
  return { name, path: real, version, sha256: fileDigest(real) };
}

export async function toolchainIdentity(toolchain: string, prefix: string): Promise<ToolchainIdentity> {
  const spec = TOOLCHAINS[toolchain];
  if (!spec) throw new HostError(`unknown toolchain ${toolchain}`);
  const pre = spec.usesCrossPrefix ? prefix : "";
  const tools: ToolId[] = [];
  for (const t of spec.identityTools) {
    const id = await toolId(t.replace("{prefix}", pre), true);
    tools.push(id!);
  }
  // The compiler proper and its plugins are the real bytes behind the driver.
  if (toolchain === "gcc") {
    const cc = `${pre}gcc`;
    const cc1 = (await run([cc, "-print-prog-name=cc1"], { allowFail: true })).stdout.trim();
    if (cc1 && cc1.startsWith("/")) tools.push({ name: "cc1", path: realpathSync(cc1), version: tools[0]!.version, sha256: fileDigest(realpathSync(cc1)) });
  }
  for (const t of AUX_IDENTITY_TOOLS) {
    const id = await toolId(t, false);
    if (id) tools.push(id);
  }
  // Paths are not part of the identity: the same package installs to the same bytes anywhere.
  const canonical = [`toolchain=${toolchain}`, ...tools.map((t) => `${t.name}\t${t.version}\t${t.sha256}`)].join("\n");
  return { toolchain, tools, canonical };
}
