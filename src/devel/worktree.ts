/**
 * `kiln dev worktree <dir>`: the build's exact source tree, checked out of kiln's git store by
 * the tree hash in the manifest (`source_tree`), for an editor:
 *
 *   <dir>/...                      the prepared (patched) source tree the build compiled
 *   <dir>/compile_commands.json    the devel layer's database, laid out: @KILN_SRC@ -> <dir>,
 *                                  @KILN_BUILD@ -> <dir>/.kiln/build
 *   <dir>/.kiln/build/             the devel layer's build part: generated headers
 *                                  (include/generated, arch/<srcarch>/include/generated),
 *                                  auto.conf, .config, the prepared scripts/, vmlinux-gdb.py
 *   <dir>/.kiln/worktree.json      release, arch and tree hash of what was laid out
 *
 * Each command in the database runs in <dir>/.kiln/build (its `directory`), as kbuild's did in
 * the build folder, so the build's relative -I./include and -I./arch/.../generated find the
 * generated headers there, and every source path points into <dir>. The worktree is a copy, not
 * a link to the warm tree: the warm tree moves on with the next build, the worktree stays the
 * build's. Everything is laid out in a staging folder beside <dir> and moved in with one rename.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { GitStore } from "../effects/git.js";
import { ProjectError } from "../errors.js";
import { layOut, parseCompileCommands } from "./compdb.js";
import { develDir, readDevelInfo } from "./layer.js";

export interface WorktreeResult {
  dir: string;
  compileCommands: string;
  /** Where the commands run (the generated headers). */
  buildDir: string;
  files: number;
  seconds: number;
}

/** Refuses a destination that exists and is not an empty folder. */
function checkDest(dir: string): void {
  if (!existsSync(dir)) return;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new ProjectError(`${dir} exists and is not a folder`, { file: dir }, "give a new folder for the worktree");
  }
  if (names.length) throw new ProjectError(`${dir} exists and is not empty`, { file: dir }, "give a new or empty folder (kiln never writes over files)");
}

export async function layWorktree(o: { git: GitStore; entry: string; dir: string; notify?: (m: string) => void }): Promise<WorktreeResult> {
  const t0 = Date.now();
  const dir = resolve(o.dir);
  checkDest(dir);
  const info = readDevelInfo(o.entry);
  if (!(await o.git.hasObject(info.source_tree))) {
    throw new ProjectError(`kiln's git store has no tree ${info.source_tree} (the source of ${info.release})`, { file: o.git.dir }, "build the target once on this machine so its source is imported: kiln build");
  }
  mkdirSync(dirname(dir), { recursive: true });
  const stage = join(dirname(dir), `.${basename(dir)}.staging-${process.pid}`);
  const index = `${stage}.index`;
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage);
  try {
    o.notify?.(`checking out ${info.source_tree} (${info.release}) into ${dir}`);
    await o.git.git(["read-tree", info.source_tree], { index });
    // parallel checkout (one worker per core): writing 86,000 files is most of the time
    await o.git.git(["-c", "checkout.workers=0", "checkout-index", "-a", "-f"], { index, workTree: stage });
    const files = Number((await o.git.out(["ls-files"], { index })).split("\n").filter(Boolean).length);
    const kiln = join(stage, ".kiln");
    cpSync(join(develDir(o.entry), "build"), join(kiln, "build"), { recursive: true, preserveTimestamps: true });
    const src = join(develDir(o.entry), "compile_commands.json");
    const db = layOut(parseCompileCommands(readFileSync(src, "utf8"), src), { src: dir, build: join(dir, ".kiln", "build") });
    writeFileSync(join(stage, "compile_commands.json"), JSON.stringify(db, null, 2) + "\n");
    writeFileSync(join(kiln, "worktree.json"), JSON.stringify({ release: info.release, arch: info.arch, source_tree: info.source_tree }, null, 2) + "\n");
    if (existsSync(dir)) rmdirSync(dir); // an empty folder the person made
    renameSync(stage, dir);
    return { dir, compileCommands: join(dir, "compile_commands.json"), buildDir: join(dir, ".kiln", "build"), files, seconds: (Date.now() - t0) / 1000 };
  } catch (e) {
    rmSync(stage, { recursive: true, force: true });
    throw e;
  } finally {
    rmSync(index, { force: true });
  }
}
