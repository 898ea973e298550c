/**
 * Where the farm is (--farm, KILN_FARM_REDIS, [farm] redis: the first given wins) and which
 * remote its workers publish to ([farm] remote, else the first of [ship].publish). Pure.
 */
import { isAbsolute } from "node:path";
import { ProjectError } from "../errors.js";
import type { Project } from "../project/load.js";

export interface FarmTarget {
  redis: string;
  from: "--farm" | "KILN_FARM_REDIS" | "kiln.toml";
}

export function resolveFarmRedis(project: Project | undefined, flag: string | undefined, env: Readonly<Record<string, string | undefined>>): FarmTarget | undefined {
  if (flag) return { redis: flag, from: "--farm" };
  if (env.KILN_FARM_REDIS) return { redis: env.KILN_FARM_REDIS, from: "KILN_FARM_REDIS" };
  const t = project?.decl.farm?.redis;
  return t ? { redis: t, from: "kiln.toml" } : undefined;
}

/**
 * The remote the workers publish to. It must be reachable from another machine: an OCI
 * registry, an http(s) mirror, or a mirror folder given by an absolute path (a shared mount).
 */
export function farmRemote(project: Project): string {
  const name = project.decl.farm?.remote ?? project.decl.ship.publish[0];
  if (!name) {
    throw new ProjectError("the farm has no remote to publish to", { file: project.file }, 'set [farm] remote = "<name>" (or [ship] publish = ["<name>"]) naming a [remote.<name>] the workers can reach');
  }
  const decl = project.decl.remote[name];
  if (!decl) throw new ProjectError(`[farm] remote "${name}" is not declared`, { file: project.file }, `declare [remote.${name}] url = "…" or oci = "host/repo"`);
  if (decl.url && !/^[a-z][a-z0-9+.-]*:\/\//i.test(decl.url) && !isAbsolute(decl.url)) {
    throw new ProjectError(`remote "${name}" is the folder "${decl.url}", relative to this project: farm workers cannot reach it`, { file: project.file }, "use an http(s) mirror, an OCI registry, or an absolute path on a folder every worker mounts");
  }
  if (project.decl.ship.trusted_keys.length === 0) {
    throw new ProjectError("[ship].trusted_keys is empty: the farm's results are taken only when signed by a trusted key", { file: project.file }, "add the workers' public key (kiln keygen) to [ship] trusted_keys");
  }
  return name;
}
