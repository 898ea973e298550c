/**
 * distcc and ccache remote storage in the build flow: what the build_flags step decides (the
 * settings, the wrapper binaries, the local-only environment configure and install see) and what
 * the compile step does before make (probe the hosts, drop the dead, refuse the mismatched, warn
 * on GCC plugins, size -j) and after (the counts the manifest records).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { HostError } from "../errors.js";
import { which } from "../effects/proc.js";
import type { Project } from "../project/load.js";
import { locateKey } from "../project/toml_locate.js";
import type { Ui } from "../ui/log.js";
import { ccacheRemoteEnv, distccEnv } from "../pipeline/build_flags.js";
import type { MakeEnv } from "../pipeline/configure.js";
import { ccacheRemoteStorage, distccHostsValue, distccJobs, resolveCcacheRemote, resolveDistcc, type CcacheRemote, type DistccSettings } from "./config.js";
import { probeDistccHosts, refuseMismatched } from "./probe.js";
import { enablesGccPlugins, parseDistccLog, type CcacheStorageCounts, type DistccCounts } from "./stats.js";

export interface DistccPlan {
  settings: DistccSettings;
  bin: string;
  /** The compiler's absolute path, as CC and the probe name it. */
  ccPath: string;
  /** The client log the compile's counts come from. */
  log: string;
  /** DISTCC_DIR: distcc's lock and backoff state for this warm tree. */
  dir: string;
}

/** What the manifest records of a distcc compile. */
export interface DistccRecord {
  from: string;
  hosts: { host: string; compiles: number }[];
  dropped: { host: string; reason: string }[];
  remote: number;
  local: number;
  fallbacks: number;
}

/** The project's and the environment's distcc and ccache-remote settings (env wins). No project: the environment only. */
export function buildSettings(project: Pick<Project, "decl" | "file" | "text"> | undefined, env: Readonly<Record<string, string | undefined>>): { distcc?: DistccSettings; ccacheRemote?: CcacheRemote } {
  const b = project?.decl.build;
  const file = project?.file ?? "kiln.toml";
  const text = project?.text ?? "";
  const distcc = resolveDistcc(b?.distcc, env, { file, line: () => locateKey(text, ["build", "distcc"]) });
  const rline = locateKey(text, ["build", "ccache_remote"]);
  const ccacheRemote = resolveCcacheRemote(b?.ccache_remote, env, { file, ...(rline ? { line: rline } : {}) });
  return { ...(distcc ? { distcc } : {}), ...(ccacheRemote ? { ccacheRemote } : {}) };
}

/** The distcc wrapper for a configured build; a missing distcc is a host error, not a silent local build. */
export async function distccPlan(settings: DistccSettings | undefined, stateDir: string, cc: string): Promise<DistccPlan | undefined> {
  if (!settings) return undefined;
  const bin = await which("distcc");
  if (!bin) throw new HostError(`distcc hosts are configured (${settings.from}) but distcc is not installed`, {}, "apt-get install distcc (or `kiln doctor --install`), or unset the distcc hosts");
  const ccPath = await which(cc);
  if (!ccPath) throw new HostError(`the compiler ${cc} is not installed`, {}, "run `kiln doctor --install`");
  const dir = join(stateDir, "distcc");
  mkdirSync(dir, { recursive: true }); // distcc does not make its DISTCC_DIR
  return { settings, bin, ccPath, log: join(stateDir, "distcc.log"), dir };
}

/** The environment of configure and install with distcc in CC: local compiles only, no network. */
export function localDistccEnv(plan: DistccPlan, ccache: boolean, cores: number): Record<string, string> {
  return distccEnv({ hosts: `localhost/${Math.max(1, cores)}`, dir: plan.dir, ccache });
}

/** The environment for ccache remote storage, when configured. */
export function remoteCcacheEnv(r: CcacheRemote | undefined): Record<string, string> {
  return r ? ccacheRemoteEnv(ccacheRemoteStorage(r)) : {};
}

/**
 * Before the compile: probe the hosts (refuse a mismatched compiler, drop an unreachable host
 * with a warning), warn about GCC plugins, and give the make environment and -j for the compile.
 */
export async function prepareDistccCompile(
  plan: DistccPlan,
  o: { make: MakeEnv; ccache: boolean; cores: number; jobs?: number; configText: string; ui: Ui },
): Promise<{ make: MakeEnv; jobs: number; dropped: DistccRecord["dropped"]; hosts: string[] }> {
  mkdirSync(plan.dir, { recursive: true });
  const where = plan.settings.from === "kiln.toml" ? "[build] distcc in kiln.toml" : plan.settings.from;
  const probe = await probeDistccHosts(plan.settings.hosts, plan.ccPath);
  refuseMismatched(probe, plan.ccPath, where);
  for (const d of probe.dropped) o.ui.warn(`distcc host ${d.host} is unreachable (${d.reason}); compiling without it`);
  if (!probe.alive.length) o.ui.warn(`no distcc host answered (${where}); every object compiles locally`);
  if (enablesGccPlugins(o.configText))
    o.ui.warn("the config enables GCC_PLUGINS: distccd refuses jobs with -fplugin=, so the objects built with a plugin compile locally (the manifest counts them)");
  const hosts = probe.alive.length ? distccHostsValue(probe.alive) : `localhost/${Math.max(1, o.cores)}`;
  const env = { ...o.make.env, ...distccEnv({ hosts, log: plan.log, dir: plan.dir, ccache: o.ccache }) };
  const jobs = o.jobs ?? distccJobs(probe.alive, o.cores);
  o.ui.step("distcc", probe.alive.length ? `${probe.alive.length} host(s): ${hosts}, -j${jobs}` : "no host: local compiles");
  return { make: { ...o.make, env }, jobs, dropped: probe.dropped, hosts: probe.alive.map((h) => h.spec) };
}

/** The manifest's record of a distcc compile from the client log's counts. Pure. */
export function distccRecord(from: string, hosts: string[], dropped: DistccRecord["dropped"], counts: DistccCounts): DistccRecord {
  const seen = new Set(hosts);
  const extra = Object.keys(counts.perHost).filter((h) => !seen.has(h));
  return {
    from,
    hosts: [...hosts, ...extra].map((h) => ({ host: h, compiles: counts.perHost[h] ?? 0 })),
    dropped,
    remote: counts.remote,
    local: counts.local,
    fallbacks: counts.fallbacks,
  };
}

export { parseDistccLog };
export type { CcacheStorageCounts };
