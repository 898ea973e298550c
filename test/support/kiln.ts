/**
 * Run the real kiln CLI as a subprocess, with its own KILN_HOME, as a user would.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { TEST_CACHE } from "./trees.js";
import { projectId } from "../../src/store/paths.js";
import type { Manifest } from "../../src/core/manifest.js";

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root (dist/test/support -> ../../..). */
export const REPO = resolve(here, "..", "..", "..");
export const KILN_BIN = join(REPO, "bin", "kiln");

/** One KILN_HOME shared by the integration tests, so the source import happens once per machine. */
export const TEST_HOME = process.env.KILN_TEST_HOME ?? join(TEST_CACHE, "kiln-home");

export interface KilnRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * KILN_TEST_COMPILE_LOCK: on a machine whose cores other work shares, each `kiln ... build` a
 * test runs first takes this lock file (flock, held by the kiln process itself), so no two kernel
 * compiles run at once.
 */
const COMPILE_LOCK = process.env.KILN_TEST_COMPILE_LOCK;

export function kilnSpawn(args: string[], o: { home?: string; cwd?: string; env?: Record<string, string> } = {}): ChildProcess {
  const argv = COMPILE_LOCK && args.includes("build") ? ["flock", "--no-fork", COMPILE_LOCK, process.execPath, KILN_BIN, ...args] : [process.execPath, KILN_BIN, ...args];
  return spawn(argv[0]!, argv.slice(1), {
    cwd: o.cwd ?? REPO,
    env: { ...process.env, KILN_HOME: o.home ?? TEST_HOME, NO_COLOR: "1", ...o.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function kiln(args: string[], o: { home?: string; cwd?: string; env?: Record<string, string> } = {}): Promise<KilnRun> {
  const t0 = Date.now();
  const child = kilnSpawn(args, o);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  return new Promise((res) => child.on("close", (code) => res({ code: code ?? 1, stdout, stderr, ms: Date.now() - t0 })));
}

/** A fresh copy of a bundled example (default examples/microvm) in a temporary folder. */
export function exampleCopy(tag: string, example = "microvm"): string {
  const root = join(TEST_CACHE, "projects");
  mkdirSync(root, { recursive: true });
  const dir = mkdtempSync(join(root, `${tag}-`));
  cpSync(join(REPO, "examples", example), dir, { recursive: true, filter: (s) => !s.endsWith("kiln.lock") && !/\/examples\/[^/]+\/(vendor|out)$/.test(s) });
  return dir;
}

export function removeProject(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Unique per test process: identities built with it (as a label) are not already in the shared store. */
export const RUN_ID = `${process.pid.toString(36)}${Date.now().toString(36)}`;

/** The manifest of the last build of a project's cell, in the test KILN_HOME. */
export function cellManifest(dir: string, target = "base", arch = "x86_64"): Manifest {
  const f = join(TEST_HOME, "work", projectId("microvm", dir), `${target}-${arch}`, "state", "manifest.json");
  return JSON.parse(readFileSync(f, "utf8")) as Manifest;
}
