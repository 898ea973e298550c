/**
 * distcc and ccache remote storage settings: where they come from (kiln.toml [build] or the
 * environment; the environment wins) and what they look like. Pure: no process, no network.
 *
 * A distcc host is `host[:port][/jobs]` (distcc's own spec, TCP only). kiln refuses the forms it
 * does not drive: `@host` (ssh), `,cpp` (pump mode: the kernel's generated headers break it),
 * `,lzo` is allowed (compression does not change the output). See docs/distcc.md.
 */
import { ProjectError } from "../errors.js";

export interface DistccHost {
  /** The spec as given (with defaults filled in): what DISTCC_HOSTS receives. */
  spec: string;
  host: string;
  port: number;
  jobs: number;
  /** Options after the comma (lzo). */
  options: string[];
}

export const DISTCC_DEFAULT_PORT = 3632;
/** distcc's own default when a spec gives no /jobs. */
export const DISTCC_DEFAULT_JOBS = 2;

const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\d{1,3}(?:\.\d{1,3}){3}$|^\[[0-9A-Fa-f:.]+\]$/;

/** Parse one host spec; the error says what is wrong with it. Pure. */
export function parseDistccHost(text: string): DistccHost | { error: string } {
  const s = text.trim();
  if (!s) return { error: "an empty host" };
  if (s.startsWith("@") || s.includes("@")) return { error: `"${s}" is an ssh host (@host): kiln drives distcc over TCP only (host:port/jobs)` };
  if (s.startsWith("--")) return { error: `"${s}" is a distcc option (--randomize, --localslots): give hosts only` };
  const [main, ...options] = s.split(",");
  for (const o of options) {
    if (o === "cpp") return { error: `"${s}" asks for pump mode (,cpp): the kernel's generated headers break it; drop ",cpp"` };
    if (o !== "lzo") return { error: `"${s}": unknown option ",${o}" (kiln allows ",lzo")` };
  }
  const m = /^(\[[^\]]+\]|[^:/]+)(?::([^/]*))?(?:\/(.*))?$/.exec(main!);
  if (!m) return { error: `"${s}" is not host[:port][/jobs]` };
  const host = m[1]!;
  if (!HOSTNAME.test(host)) return { error: `"${host}" is not a host name or address` };
  let port = DISTCC_DEFAULT_PORT;
  if (m[2] !== undefined) {
    if (!/^\d{1,5}$/.test(m[2]) || Number(m[2]) < 1 || Number(m[2]) > 65535) return { error: `"${s}": the port "${m[2]}" is not a number from 1 to 65535` };
    port = Number(m[2]);
  }
  let jobs = DISTCC_DEFAULT_JOBS;
  if (m[3] !== undefined) {
    if (!/^\d{1,4}$/.test(m[3]) || Number(m[3]) < 1) return { error: `"${s}": the job count "${m[3]}" is not a positive number` };
    jobs = Number(m[3]);
  }
  if (host === "localhost") return { error: `"${s}": localhost is distcc's local slot, not a host; kiln adds the local jobs itself` };
  const spec = `${host}:${port}/${jobs}${options.length ? `,${options.join(",")}` : ""}`;
  return { spec, host, port, jobs, options };
}

/** Where the distcc host list came from. */
export type DistccSource = "KILN_DISTCC_HOSTS" | "DISTCC_HOSTS" | "kiln.toml";

export interface DistccSettings {
  hosts: DistccHost[];
  from: DistccSource;
}

/**
 * The distcc hosts for this run: KILN_DISTCC_HOSTS, then DISTCC_HOSTS (space separated, as
 * distcc reads it), then [build] distcc. An environment variable set to "" turns distcc off.
 * Throws a ProjectError naming the variable (or kiln.toml:line) of a bad spec. Pure.
 */
export function resolveDistcc(
  decl: readonly string[] | undefined,
  env: Readonly<Record<string, string | undefined>>,
  where: { file: string; line?: (index: number) => number | undefined },
): DistccSettings | undefined {
  for (const v of ["KILN_DISTCC_HOSTS", "DISTCC_HOSTS"] as const) {
    const t = env[v];
    if (t === undefined) continue;
    const words = t.split(/\s+/).filter(Boolean);
    if (!words.length) return undefined;
    const hosts: DistccHost[] = [];
    for (const w of words) {
      const h = parseDistccHost(w);
      if ("error" in h) throw new ProjectError(`${v}: ${h.error}`, {}, `set ${v} to space-separated host:port/jobs specs, e.g. "build1:3632/8 build2:3632/8"`);
      hosts.push(h);
    }
    return { hosts: dedupe(hosts, v), from: v };
  }
  if (!decl || !decl.length) return undefined;
  const hosts: DistccHost[] = [];
  decl.forEach((w, i) => {
    const h = parseDistccHost(w);
    const line = where.line?.(i);
    if ("error" in h) throw new ProjectError(`[build] distcc[${i}]: ${h.error}`, { file: where.file, ...(line ? { line } : {}) }, 'give hosts as "host:port/jobs", e.g. distcc = ["build1:3632/8"]');
    hosts.push(h);
  });
  return { hosts: dedupe(hosts, "[build] distcc"), from: "kiln.toml" };
}

function dedupe(hosts: DistccHost[], where: string): DistccHost[] {
  const seen = new Set<string>();
  for (const h of hosts) {
    const k = `${h.host}:${h.port}`;
    if (seen.has(k)) throw new ProjectError(`${where}: ${k} is listed twice`, {}, "list each distcc host once (its /jobs gives its slots)");
    seen.add(k);
  }
  return hosts;
}

/** The DISTCC_HOSTS value for a list of hosts. Pure. */
export function distccHostsValue(hosts: readonly DistccHost[]): string {
  return hosts.map((h) => h.spec).join(" ");
}

/** make -j for a distcc build: every remote slot plus the local cores (they preprocess and link). */
export function distccJobs(hosts: readonly DistccHost[], localCores: number): number {
  return hosts.reduce((n, h) => n + h.jobs, 0) + Math.max(1, localCores);
}

// ------------------------------------------------------------------ ccache remote storage

export interface CcacheRemote {
  /** The URL ccache receives (credentials included when they came from the environment). */
  url: string;
  /** The URL with any password replaced by ***: what logs and the manifest show. */
  shown: string;
  from: "KILN_CCACHE_REMOTE" | "kiln.toml";
}

/** Replace the password (and a lone user token) of a URL with ***. Pure. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_m, scheme: string, userinfo: string) => {
    const i = userinfo.indexOf(":");
    return `${scheme}${i >= 0 ? `${userinfo.slice(0, i)}:***` : "***"}@`;
  });
}

/** Replace every occurrence of the secret URL's password in a text (a log line, an error). Pure. */
export function redactText(text: string, r: CcacheRemote | undefined): string {
  if (!r || r.url === r.shown) return text;
  return text.split(r.url).join(r.shown);
}

/**
 * ccache_remote from KILN_CCACHE_REMOTE or [build] ccache_remote: redis://host:port[/db] or
 * http(s)://host[:port]/path. kiln.toml may not carry credentials (a file is committed); the
 * environment may. Pure.
 */
export function resolveCcacheRemote(
  decl: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
  where: { file: string; line?: number },
): CcacheRemote | undefined {
  const fromEnv = env.KILN_CCACHE_REMOTE;
  const url = fromEnv !== undefined ? fromEnv.trim() : decl;
  if (!url) return undefined;
  const from = fromEnv !== undefined ? ("KILN_CCACHE_REMOTE" as const) : ("kiln.toml" as const);
  const at = from === "kiln.toml" ? { file: where.file, ...(where.line ? { line: where.line } : {}) } : {};
  const label = from === "kiln.toml" ? "[build] ccache_remote" : "KILN_CCACHE_REMOTE";
  const m = /^(redis|http|https):\/\/(?:([^@/\s]*)@)?([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?(\/\S*)?$/.exec(url);
  if (!m) throw new ProjectError(`${label}: "${redactUrl(url)}" is not a redis://host:port or http(s)://host/path URL`, at, 'give e.g. "redis://cache.example:6379" or "http://cache.example:8080/ccache"');
  if (m[2] !== undefined && from === "kiln.toml")
    throw new ProjectError(`${label}: the URL carries credentials (user:password@); kiln.toml is committed, so they may not live there`, at, "put the whole URL in the KILN_CCACHE_REMOTE environment variable instead");
  if (m[4] !== undefined && (Number(m[4]) < 1 || Number(m[4]) > 65535)) throw new ProjectError(`${label}: port ${m[4]} is out of range`, at, "give a port from 1 to 65535");
  return { url, shown: redactUrl(url), from };
}

/**
 * ccache's remote storage value: the URL plus the attributes kiln wants (a short connect timeout
 * so a dead cache costs little, a longer operation timeout for large objects). Pure.
 */
export function ccacheRemoteStorage(r: CcacheRemote): string {
  return `${r.url}|connect-timeout=500|operation-timeout=5000`;
}
