/** `kiln store ls` and `kiln store gc`: the local store of finished builds. */
import type { Command } from "commander";
import { rmSync } from "node:fs";
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
    .description("remove store entries unused for a while, or beyond the newest N per target, and leftovers of killed builds")
    .option("--older-than <days>", "remove entries unused for more than this many days", intOption("--older-than"), 30)
    .option("--keep <n>", "keep at most this many entries per (project, target, arch)", intOption("--keep"))
    .option("--dry-run", "only say what would be removed")
    .action(async (o: { olderThan: number; keep?: number; dryRun?: boolean }) => {
      const { listEntries, planGc, staleTmp } = await import("../store/store.js");
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
      if (ctx.globals.json) process.stdout.write(JSON.stringify({ removed: remove.map((e) => e.release), leftovers: tmp.length, bytes: freed }) + "\n");
      else ui.info(`${o.dryRun ? "would free" : "freed"} ${fmtBytes(freed)} (${remove.length} entries, ${tmp.length} leftovers)`);
    });
}
