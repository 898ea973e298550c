/** `kiln doctor`: check (and install) the host tools and Debian packages kiln needs. */
import type { Command } from "commander";
import { existsSync } from "node:fs";
import { HostError } from "../errors.js";
import type { Context } from "./context.js";

export function registerDoctorCommand(prog: Command, ctx: Context): void {
  prog
    .command("doctor")
    .description("check the host tools and Debian packages kiln needs")
    .option("--install", "install what is missing with apt-get (sudo when not root)")
    .option("--arch <arches...>", "also check cross compilers and QEMU for these arches")
    .action(async (o: { install?: boolean; arch?: string[] }) => {
      const [{ HOST_TOOLS, HOST_HEADERS }, { run, which }] = await Promise.all([import("../tables/host.js"), import("../effects/proc.js")]);
      const ui = ctx.ui;
      const arches = o.arch ?? [];
      const rows: { what: string; pkg: string; ok: boolean; optional: boolean; detail: string }[] = [];
      for (const t of HOST_TOOLS) {
        if (t.arch && !arches.includes(t.arch)) continue;
        const at = await which(t.cmd);
        rows.push({ what: t.cmd, pkg: t.pkg, ok: !!at, optional: !!t.optional && !t.arch, detail: at ?? t.why });
      }
      for (const h of HOST_HEADERS) rows.push({ what: h.header, pkg: h.pkg, ok: existsSync(h.header), optional: false, detail: h.why });
      const cc = await which("ccache");
      if (cc) {
        const v = /(\d+)\.(\d+)(?:\.(\d+))?/.exec((await run(["ccache", "--version"], { allowFail: true })).stdout);
        const ok = !!v && (Number(v[1]) > 4 || (Number(v[1]) === 4 && (Number(v[2]) > 7 || (Number(v[2]) === 7 && Number(v[3] ?? 0) >= 3))));
        if (!ok) rows.push({ what: "ccache >= 4.7.3", pkg: "ccache", ok: false, optional: true, detail: `found ${v?.[0]}; kiln builds without ccache` });
      }
      // distcc hosts and the shared ccache, when configured here (environment or the project's kiln.toml)
      rows.push(...(await (await import("../distcc/doctor.js")).distributedChecks(await ctx.maybeProject().catch(() => undefined))));
      // the build farm's Redis, when one is configured (KILN_FARM_REDIS or [farm] redis)
      rows.push(...(await (await import("../farm/doctor.js")).farmChecks(await ctx.maybeProject().catch(() => undefined))));
      // disk: a first build imports a source (about 2 GiB) and checks out a warm tree (1.7 GiB)
      const [{ freeBytes }, { kilnHome }, { fmtBytes }] = await Promise.all([import("../effects/fsx.js"), import("../store/paths.js"), import("../ui/log.js")]);
      const home = kilnHome();
      const free = freeBytes(home);
      rows.push({ what: "disk space in KILN_HOME", pkg: "-", ok: free >= 6 * 1024 ** 3, optional: true, detail: `${fmtBytes(free)} free under ${home}; a first build needs about 6 GiB` });
      const missing = rows.filter((r) => !r.ok);
      const must = missing.filter((r) => !r.optional);
      if (ctx.globals.json) ctx.printJson({ ok: must.length === 0, checks: rows });
      else {
        for (const r of rows) ui.info(`${r.ok ? "ok     " : r.optional ? "missing" : "MISSING"} ${r.what.padEnd(28)} ${r.pkg.padEnd(24)} ${r.detail}`);
      }
      if (o.install && missing.length) {
        const pkgs = [...new Set(missing.map((r) => r.pkg))];
        const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
        ui.step("install", pkgs.join(" "));
        await run([...sudo, "apt-get", "update", "-q"], { env: { DEBIAN_FRONTEND: "noninteractive" } });
        await run([...sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", ...pkgs], { env: { DEBIAN_FRONTEND: "noninteractive" } });
        ui.info(`installed: ${pkgs.join(" ")}`);
        return;
      }
      const tools = must.filter((r) => r.what !== "farm redis");
      const farm = must.find((r) => r.what === "farm redis");
      if (!tools.length && farm) throw new HostError(`the farm Redis does not answer: ${farm.detail}`, {}, "start it (docs/farm.md), or unset KILN_FARM_REDIS / [farm] redis");
      if (must.length) throw new HostError(`missing host tools: ${must.map((r) => r.what).join(", ")}`, {}, "run `kiln doctor --install`");
    });
}
