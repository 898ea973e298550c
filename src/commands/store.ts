/** `kiln store ls` and `kiln store gc`: the local store of finished builds. */
import type { Command } from "commander";
import { existsSync, rmSync } from "node:fs";
import { fmtBytes } from "../ui/log.js";
import { intOption, type Context } from "./context.js";

export function registerStoreCommands(prog: Command, ctx: Context): void {
  const store = prog.command("store").description("the local store of finished builds");
  store
    .command("ls")
    .description("list store entries, most recently used first")
    .action(async () => {
      const { listEntries } = await import("../store/store.js");
      const ui = ctx.ui;
      const entries = listEntries(await ctx.paths());
      if (ctx.globals.json) {
        ctx.printJson(entries.map((e) => ({ release: e.release, dir: e.dir, bytes: e.bytes, last_used: e.lastUsed.toISOString(), project: e.manifest?.project.name, target: e.manifest?.target, arch: e.manifest?.arch })));
        return;
      }
      if (!entries.length) ui.info("the store is empty");
      for (const e of entries) ui.info(`${e.release.padEnd(50)} ${(e.manifest ? `${e.manifest.project.name}/${e.manifest.target}/${e.manifest.arch}` : "?").padEnd(26)} ${fmtBytes(e.bytes).padStart(10)}  ${e.lastUsed.toISOString().slice(0, 16)}`);
    });
  store
    .command("gc")
    .description("remove store entries unused for a while, or beyond the newest N per target, warm trees of gone or idle projects, and leftovers of killed builds")
    .option("--older-than <days>", "remove entries unused for more than this many days", intOption("--older-than"), 30)
    .option("--keep <n>", "keep at most this many entries per (project, target, arch)", intOption("--keep"))
    .option("--no-work", "keep every warm tree (work/): by default gc removes those whose project folder is gone or that were unused for --older-than days")
    .option("--dry-run", "only say what would be removed")
    .action(async (o: { olderThan: number; keep?: number; work: boolean; dryRun?: boolean }) => {
      const [{ listEntries, planGc, staleTmp, listWarmCells, planWarmGc, duBytes }, { tryAcquire }] = await Promise.all([import("../store/store.js"), import("../effects/lock.js")]);
      const ui = ctx.ui;
      const p = await ctx.paths();
      const remove = planGc(listEntries(p), { maxAgeDays: o.olderThan, ...(o.keep !== undefined ? { keepLatest: o.keep } : {}) });
      const tmp = staleTmp(p);
      let freed = 0;
      for (const e of remove) {
        freed += e.bytes;
        if (!o.dryRun) rmSync(e.dir, { recursive: true, force: true });
        ui.info(`${o.dryRun ? "would remove" : "removed"} ${e.release}`);
      }
      for (const t of tmp) if (!o.dryRun) rmSync(t, { recursive: true, force: true });
      // warm trees: 1.5-2 GiB each; a build holds its cell's tree lock, so a busy one is left alone
      const warm = o.work ? planWarmGc(listWarmCells(p), { maxAgeDays: o.olderThan, exists: existsSync }) : [];
      const warmRemoved: string[] = [];
      for (const { cell, why } of warm) {
        const lock = o.dryRun ? undefined : await tryAcquire(cell.lock);
        if (!o.dryRun && !lock) {
          ui.info(`kept warm tree ${cell.dir}: a build is using it`);
          continue;
        }
        try {
          const bytes = duBytes(cell.dir);
          freed += bytes;
          if (!o.dryRun) rmSync(cell.dir, { recursive: true, force: true });
          warmRemoved.push(cell.dir);
          ui.info(`${o.dryRun ? "would remove" : "removed"} warm tree ${cell.dir} (${fmtBytes(bytes)}): ${why}`);
        } finally {
          await lock?.release();
        }
      }
      if (ctx.globals.json) process.stdout.write(JSON.stringify({ removed: remove.map((e) => e.release), warm_trees: warmRemoved, leftovers: tmp.length, bytes: freed }) + "\n");
      else ui.info(`${o.dryRun ? "would free" : "freed"} ${fmtBytes(freed)} (${remove.length} entries, ${warmRemoved.length} warm trees, ${tmp.length} leftovers)`);
    });
}
