/** `kiln manifest`: print a build's manifest (validated), or the manifest's JSON Schema. */
import type { Command } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ProjectError } from "../errors.js";
import type { Context } from "./context.js";

export function registerManifestCommand(prog: Command, ctx: Context): void {
  prog
    .command("manifest [target]")
    .description("print the manifest of a target's latest build (or of a store entry by release)")
    .option("--arch <arch>", "the arch (default: the target's first)")
    .option("--release <release>", "print the manifest of this store entry")
    .option("--schema", "print the manifest's JSON Schema")
    .action(async (target: string | undefined, o: { arch?: string; release?: string; schema?: boolean }) => {
      if (o.schema) {
        const { manifestJsonSchema } = await import("../core/manifest.js");
        process.stdout.write(JSON.stringify(manifestJsonSchema(), null, 2) + "\n");
        return;
      }
      const [{ readManifest, entryDir }, { pickCell, cellWarmTree }] = await Promise.all([import("../store/store.js"), import("../pipeline/cells.js")]);
      const p = await ctx.paths();
      let file: string;
      if (o.release) file = join(entryDir(p, o.release), "manifest.json");
      else {
        const project = await ctx.project();
        file = join(cellWarmTree(project, pickCell(project, target, o.arch), p).state, "manifest.json");
      }
      if (!existsSync(file)) throw new ProjectError(`no manifest at ${file}`, {}, "build first: kiln build");
      readManifest(file); // validated: a damaged or foreign file is an error, not output
      process.stdout.write(readFileSync(file, "utf8"));
    });
}
