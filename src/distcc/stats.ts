/**
 * What a distcc build did, read from the client's DISTCC_LOG, and what ccache's remote storage
 * did, read from ccache's stats log. Pure: text in, counts out.
 */

export interface DistccCounts {
  /** Compiles that ran on a distcc host, by host spec (host:port/jobs). */
  perHost: Record<string, number>;
  remote: number;
  /** Compiles distcc ran on this machine (fallbacks, refusals such as -fplugin=, no free host). */
  local: number;
  /** Compiles that were meant for a host but failed over to a local compile. */
  fallbacks: number;
}

/**
 * Count the compiles in a distcc client log (DISTCC_LOG, written with or without DISTCC_VERBOSE):
 * each compile ends with "compile <file> on <host> completed ok"; <host> is "localhost" for a local
 * one. "failed to distribute ... running locally instead" marks a fallback.
 */
export function parseDistccLog(text: string): DistccCounts {
  const perHost: Record<string, number> = {};
  let remote = 0;
  let local = 0;
  let fallbacks = 0;
  for (const line of text.split("\n")) {
    const m = /\bcompile (\S+) on (\S+) completed ok\s*$/.exec(line);
    if (m) {
      const host = m[2]!;
      if (host === "localhost") local++;
      else {
        remote++;
        perHost[host] = (perHost[host] ?? 0) + 1;
      }
      continue;
    }
    if (/failed to distribute\b.*running locally instead/.test(line)) fallbacks++;
  }
  return { perHost, remote, local, fallbacks };
}

export interface CcacheStorageCounts {
  /** Cache hits served from the local cache directory. */
  local_hits: number;
  /** Cache hits served from the remote storage (and then written to the local cache). */
  remote_hits: number;
  /** Results that missed both. */
  misses: number;
  /** Remote storage errors and timeouts (the compile then ran or came from local). */
  remote_errors: number;
}

/**
 * Local hits, remote hits and misses from a ccache 4.7 stats log (CCACHE_STATSLOG): one record per
 * compiler call, "# <file>" then one counter name per line (local_storage_hit, remote_storage_hit,
 * cache_miss, remote_storage_error, remote_storage_timeout, ...).
 */
export function parseCcacheStorageLog(text: string): CcacheStorageCounts {
  const c: CcacheStorageCounts = { local_hits: 0, remote_hits: 0, misses: 0, remote_errors: 0 };
  for (const raw of text.split("\n")) {
    const l = raw.trim();
    if (l === "local_storage_hit") c.local_hits++;
    else if (l === "remote_storage_hit") c.remote_hits++;
    else if (l === "cache_miss") c.misses++;
    else if (l === "remote_storage_error" || l === "remote_storage_timeout") c.remote_errors++;
  }
  return c;
}

/** The compiler identification lines of a `-v` compile's stderr ("gcc version 12.2.0 (...)"). Pure. */
export function compilerVersionLines(stderr: string): string[] {
  const out = new Set<string>();
  for (const raw of stderr.split("\n")) {
    const l = raw.trim();
    if (!/\bversion\s+\d/.test(l)) continue;
    if (/^COLLECT_|distccd_|\/tmp\//.test(l)) continue;
    out.add(l);
  }
  return [...out].sort();
}

/** Whether a kernel config enables GCC plugins (distccd refuses -fplugin= jobs). Pure. */
export function enablesGccPlugins(configText: string): boolean {
  return /^CONFIG_GCC_PLUGINS=y$/m.test(configText);
}
