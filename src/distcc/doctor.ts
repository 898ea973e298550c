/**
 * `kiln doctor` rows for distcc and the shared ccache, when they are configured (the environment
 * or the project's [build]): each distcc host gets the build's own probe (reachable, same
 * compiler), the ccache remote a PING (redis, with redis-cli) or a HEAD (http). Credentials are
 * never shown.
 */
import type { Project } from "../project/load.js";
import { run, which } from "../effects/proc.js";
import { request } from "../effects/http.js";
import { TOOLCHAINS, fillToolchainWord } from "../tables/toolchains.js";
import { buildSettings } from "./flow.js";
import { probeDistccHosts } from "./probe.js";

export interface DoctorRow {
  what: string;
  pkg: string;
  ok: boolean;
  optional: boolean;
  detail: string;
}

export async function distributedChecks(project: Project | undefined): Promise<DoctorRow[]> {
  const s = buildSettings(project, process.env);
  const rows: DoctorRow[] = [];
  if (s.distcc) {
    const bin = await which("distcc");
    rows.push({ what: "distcc", pkg: "distcc", ok: !!bin, optional: false, detail: bin ?? `distcc hosts are configured (${s.distcc.from})` });
    if (bin) {
      const cc = (await which(fillToolchainWord(TOOLCHAINS.gcc!.cc, { prefix: "", triple: "" }))) ?? "gcc";
      const p = await probeDistccHosts(s.distcc.hosts, cc, { timeoutMs: 15_000 });
      for (const v of p.verdicts)
        rows.push({ what: `distcc host ${v.host.spec}`, pkg: "distcc", ok: v.status === "ok", optional: v.status === "unreachable", detail: `${v.status}: ${v.detail} (${v.ms} ms)` });
    }
  }
  if (s.ccacheRemote) {
    const r = s.ccacheRemote;
    if (r.url.startsWith("redis://")) {
      const cli = await which("redis-cli");
      if (!cli) rows.push({ what: `ccache remote ${r.shown}`, pkg: "redis-tools", ok: false, optional: true, detail: "redis-cli is needed to check it" });
      else {
        const x = await run([cli, "-u", r.url, "--no-auth-warning", "PING"], { allowFail: true, timeoutMs: 5000 });
        const ok = x.exitCode === 0 && /PONG/.test(x.stdout);
        rows.push({ what: `ccache remote ${r.shown}`, pkg: "-", ok, optional: true, detail: ok ? "redis answers PING" : `no PONG: ${(x.stdout + x.stderr).split(r.url).join(r.shown).trim().split("\n").pop() ?? ""}` });
      }
    } else {
      let detail: string;
      let ok = false;
      try {
        const res = await request({ method: "HEAD", url: r.url, limits: { deadlineMs: 5000, idleMs: 5000 }, what: "the ccache remote" });
        res.discard();
        ok = res.status < 500;
        detail = `HTTP ${res.status}`;
      } catch (e) {
        detail = (e as Error).message.split(r.url).join(r.shown);
      }
      rows.push({ what: `ccache remote ${r.shown}`, pkg: "-", ok, optional: true, detail });
    }
  }
  return rows;
}
