/**
 * A scratch O= folder for compiling a handful of real kernel objects without building a kernel:
 * the test store's x86_64 .config, `make olddefconfig` + `make prepare` once, kept in the test
 * cache under the config's and tree's digest (about 10 MiB), so later runs only compile. Its make
 * environment is kiln's own (buildFlags), with or without the ccache/distcc wrappers.
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildFlags } from "../../src/pipeline/build_flags.js";
import { makeArgv, type MakeEnv } from "../../src/pipeline/configure.js";
import { run } from "../../src/effects/proc.js";
import type { ExampleKernel } from "./store.js";
import { TEST_CACHE } from "./trees.js";

export interface ObjectsDir {
  dir: string;
  make(o?: { ccache?: boolean; distcc?: boolean; env?: Record<string, string> }): MakeEnv;
  /** Remove the objects of these folders (init/, kernel/, ...) so the next make compiles them again. */
  clean(folders: readonly string[]): void;
  /** sha256 of each object in these folders, by path. */
  digests(folders: readonly string[]): Record<string, string>;
}

export async function objectsDir(ek: ExampleKernel, jobs = 2): Promise<ObjectsDir> {
  const config = readFileSync(join(ek.buildDir, ".config"), "utf8");
  const key = createHash("sha256").update(ek.tree).update("\0").update(config).digest("hex").slice(0, 16);
  const dir = join(TEST_CACHE, "distcc-objects", key);
  const make = (o: { ccache?: boolean; distcc?: boolean; env?: Record<string, string> } = {}): MakeEnv => {
    const flags = buildFlags({
      arch: ek.arch, toolchain: "gcc", src: ek.tree, build: dir, timestamp: ek.manifest.inputs.source.timestamp, makeVars: {},
      ...(o.ccache ? { ccache: { bin: "ccache" } } : {}), ...(o.distcc ? { distcc: { bin: "/usr/bin/distcc", ccPath: "/usr/bin/gcc" } } : {}),
    });
    return { src: ek.tree, build: dir, makeVars: flags.makeVars, env: { LC_ALL: "C", ...(o.env ?? {}) } };
  };
  if (!existsSync(join(dir, ".prepared"))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(ek.buildDir, ".config"), join(dir, ".config"));
    const m = make();
    await run(makeArgv(m, ["olddefconfig"], ["-s"]), { env: m.env });
    await run(makeArgv(m, ["prepare"], [`-j${jobs}`, "-s"]), { env: m.env });
    writeFileSync(join(dir, ".prepared"), `${ek.release}\n`);
  }
  const walk = (f: string, out: string[] = []): string[] => {
    if (!existsSync(f)) return out;
    for (const e of readdirSync(f, { withFileTypes: true })) {
      const p = join(f, e.name);
      if (e.isDirectory()) walk(p, out);
      else out.push(p);
    }
    return out;
  };
  return {
    dir,
    make,
    clean(folders) {
      for (const d of folders) for (const f of walk(join(dir, d))) if (/\.(o|a)$|\.[oa]\.cmd$/.test(f)) rmSync(f, { force: true });
    },
    digests(folders) {
      const out: Record<string, string> = {};
      for (const d of folders) for (const f of walk(join(dir, d)).filter((x) => x.endsWith(".o")).sort()) out[f.slice(dir.length + 1)] = createHash("sha256").update(readFileSync(f)).digest("hex");
      return out;
    },
  };
}
