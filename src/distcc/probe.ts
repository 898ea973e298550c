/**
 * Preflight of the distcc hosts before a compile: each host gets one tiny compile, through that
 * host only (DISTCC_FALLBACK=0, DISTCC_SKIP_LOCAL_RETRY=1, so a failure is not hidden by a local
 * retry), with `-v` so the host's compiler prints its version on the stderr distcc relays. The
 * input is preprocessed here first (a .i file), so every -v line comes from the host.
 *
 * - the host answers with the same version lines and the same object bytes as the local
 *   compiler: kept;
 * - the host cannot be reached (distcc's connect/timeout/protocol exits): dropped with a warning,
 *   the build degrades to local compiles;
 * - the host answers with another compiler (other version lines, other bytes, or "compiler not
 *   found"): refused with a HostError; a mixed-compiler build would not be reproducible.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HostError } from "../errors.js";
import { run } from "../effects/proc.js";
import type { DistccHost } from "./config.js";
import { compilerVersionLines } from "./stats.js";

export interface HostVerdict {
  host: DistccHost;
  status: "ok" | "unreachable" | "mismatch";
  detail: string;
  ms: number;
}

export interface ProbeResult {
  alive: DistccHost[];
  dropped: { host: string; reason: string }[];
  verdicts: HostVerdict[];
  /** The local compiler's version lines (what every host must match). */
  local: string[];
}

/** distcc's exit codes for "could not use the host" (man distcc, EXIT CODES). */
const UNREACHABLE_EXITS = new Set([100, 102, 103, 107, 108, 109, 113, 114, 116, 118]);
const PROBE_SOURCE = `/* kiln distcc probe */\nstruct s { int a; long b; };\nint kiln_probe(struct s *p, int n) { int t = 0; for (int i = 0; i < n; i++) t += p[i].a * (int)p[i].b; return t; }\n`;

/** Probe every host (one at a time: a few hundred milliseconds each). cc is the compiler word, e.g. "gcc". */
export async function probeDistccHosts(hosts: readonly DistccHost[], cc: string, o: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ProbeResult> {
  const dir = mkdtempSync(join(tmpdir(), "kiln-distcc-probe-"));
  try {
    writeFileSync(join(dir, "probe.c"), PROBE_SOURCE);
    const base = { ...(o.env ?? {}), LC_ALL: "C", DISTCC_DIR: join(dir, "state"), DISTCC_NO_CROSS_REWRITE: "1" };
    mkdirSync(base.DISTCC_DIR, { recursive: true });
    await run([cc, "-O2", "-E", "-o", join(dir, "probe.i"), join(dir, "probe.c")], { env: base });
    const loc = await run([cc, "-O2", "-v", "-c", "-o", join(dir, "local.o"), join(dir, "probe.i")], { env: base, cwd: dir });
    const local = compilerVersionLines(loc.stderr);
    const localObj = readFileSync(join(dir, "local.o"));
    const verdicts: HostVerdict[] = [];
    for (const h of hosts) {
      const t0 = Date.now();
      const out = join(dir, `remote-${verdicts.length}.o`);
      const env = { ...base, DISTCC_HOSTS: h.spec, DISTCC_FALLBACK: "0", DISTCC_SKIP_LOCAL_RETRY: "1", DISTCC_IO_TIMEOUT: "20", DISTCC_VERBOSE: "0" };
      const r = await run(["distcc", cc, "-O2", "-v", "-c", "-o", out, join(dir, "probe.i")], { env, cwd: dir, allowFail: true, timeoutMs: o.timeoutMs ?? 30_000, missingHint: "install distcc (apt-get install distcc) or remove the distcc hosts" });
      const ms = Date.now() - t0;
      const errTail = lastLine(r.stderr);
      if (r.timedOut || UNREACHABLE_EXITS.has(r.exitCode)) {
        verdicts.push({ host: h, status: "unreachable", detail: r.timedOut ? "no answer in time" : `distcc exit ${r.exitCode}: ${errTail}`, ms });
        continue;
      }
      if (r.exitCode !== 0) {
        verdicts.push({ host: h, status: "mismatch", detail: r.exitCode === 110 ? `the host has no ${cc} on distccd's PATH (distcc exit 110)` : `the probe compile failed (exit ${r.exitCode}): ${errTail}`, ms });
        continue;
      }
      const remote = compilerVersionLines(r.stderr);
      const same = remote.length > 0 && remote.join("\n") === local.join("\n");
      if (!same) {
        const theirs = remote.find((l) => !local.includes(l)) ?? remote[0] ?? "(no version lines)";
        const ours = local.find((l) => !remote.includes(l)) ?? local[0] ?? "";
        verdicts.push({ host: h, status: "mismatch", detail: `its compiler says "${theirs}", here "${ours}"`, ms });
        continue;
      }
      if (!readFileSync(out).equals(localObj)) {
        verdicts.push({ host: h, status: "mismatch", detail: "the same version, but its object differs from a local compile's bytes", ms });
        continue;
      }
      verdicts.push({ host: h, status: "ok", detail: remote.find((l) => /version/.test(l)) ?? "", ms });
    }
    return {
      alive: verdicts.filter((v) => v.status === "ok").map((v) => v.host),
      dropped: verdicts.filter((v) => v.status === "unreachable").map((v) => ({ host: v.host.spec, reason: v.detail })),
      verdicts,
      local,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The probe's verdicts as a refusal when any host runs another compiler. */
export function refuseMismatched(p: ProbeResult, cc: string, from: string): void {
  const bad = p.verdicts.filter((v) => v.status === "mismatch");
  if (!bad.length) return;
  throw new HostError(
    `distcc host(s) with another compiler than the local ${cc}: ${bad.map((v) => `${v.host.spec} (${v.detail})`).join("; ")}`,
    {},
    `every distcc host must run the identical ${cc} (same Debian package version); upgrade the host or remove it from ${from}`,
  );
}

function lastLine(s: string): string {
  const ls = s.trim().split("\n").filter(Boolean);
  return ls.length ? ls[ls.length - 1]!.replace(/^distcc\[\d+\]\s*/, "") : "";
}
