/**
 * b4, the kernel's mailed-series tool (Debian's `b4`), run through proc.ts with an argv array.
 *
 * b4 reads its settings from git config (`b4.midmask`, `b4.linkmask`, ...). kiln never lets it
 * see the user's configuration: HOME and the XDG folders point into the staging folder, the
 * global and system git configs are off, and kiln's settings come as command-line config
 * (GIT_CONFIG_COUNT / GIT_CONFIG_KEY_n / GIT_CONFIG_VALUE_n, what `git -c` sets for b4's own git
 * calls). b4 runs in the staging folder, with git's search for a repository stopped there, so a
 * project's `.b4-config` is not read either. Its output lands in `<staging>/out`.
 */
import { mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { run } from "./proc.js";
import { SourceError } from "../errors.js";

export interface B4Am {
  /** The series as one mbox, without the cover letter (b4's `.mbx`). */
  mbx: string;
  /** b4's `.cover`, when the thread has a cover letter. */
  cover?: string;
  /** What b4 said, for messages. */
  log: string;
}

/** The git config b4 sees: message-ids resolve under the lore base; no attestation lookups (no network beyond lore). */
export function b4Config(lore: string): [string, string][] {
  const base = lore.replace(/\/+$/, "");
  return [
    ["b4.midmask", `${base}/%s`],
    ["b4.linkmask", `${base}/%s`],
    ["b4.searchmask", `${base}/?x=m&t=1&q=%s`],
    ["b4.attestation-policy", "off"],
    ["user.name", "kiln"],
    ["user.email", "kiln@localhost"],
  ];
}

/** The environment b4 runs in: a private HOME and XDG folders under `staging`, kiln's config only. */
export function b4Env(lore: string, staging: string): Record<string, string> {
  const cfg = b4Config(lore);
  const env: Record<string, string> = {
    HOME: join(staging, "home"),
    XDG_CONFIG_HOME: join(staging, "home", ".config"),
    XDG_CACHE_HOME: join(staging, "home", ".cache"),
    XDG_DATA_HOME: join(staging, "home", ".local", "share"),
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_CEILING_DIRECTORIES: dirname(staging),
    GIT_CONFIG_COUNT: String(cfg.length),
    LC_ALL: "C.UTF-8",
  };
  cfg.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

/**
 * `b4 am -o <staging>/out -n series <msgid>` against the lore base: the thread's newest revision,
 * with the trailers sent in reply. Throws SourceError naming the message-id and the URL.
 */
export async function b4Am(msgid: string, lore: string, staging: string, o: { timeoutMs?: number } = {}): Promise<B4Am> {
  const out = join(staging, "out");
  mkdirSync(out, { recursive: true });
  mkdirSync(join(staging, "home", ".config"), { recursive: true });
  const id = msgid.replace(/^<|>$/g, "");
  const r = await run(["b4", "--no-interactive", "am", "--no-cache", "-o", out, "-n", "series", id], {
    cwd: staging,
    env: b4Env(lore, staging),
    allowFail: true,
    timeoutMs: o.timeoutMs ?? 120_000,
    missingHint: "install Debian's b4: apt-get install b4 (or kiln doctor --install)",
  });
  const files = readdirSync(out);
  const url = `${lore.replace(/\/+$/, "")}/${encodeURIComponent(id)}/t.mbox.gz`;
  const said = r.all.trim().split("\n").slice(-8).join("\n");
  if (r.exitCode !== 0 || !files.includes("series.mbx")) {
    throw new SourceError(
      `b4 could not fetch the series <${id}>${r.timedOut ? " (timed out)" : ` (exit ${r.exitCode})`}:\n${said}`,
      { url },
      "check the message-id and the lore base ([series] lore, or KILN_LORE_URL); `b4 am <msgid>` by hand shows the same",
    );
  }
  return { mbx: join(out, "series.mbx"), ...(files.includes("series.cover") ? { cover: join(out, "series.cover") } : {}), log: r.all };
}
