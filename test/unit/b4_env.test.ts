import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { run } from "../../src/effects/proc.js";
import { b4Env } from "../../src/effects/b4.js";

// b4 reads its settings with `git config -z --get-regexp b4\..*` (b4/__init__.py,
// get_config_from_git). Ask the real git the same question in the environment kiln gives b4,
// with a user's global config and a repository's config around that must not leak in.
test("b4 sees kiln's lore base and nothing from the user's or a repository's git config", async () => {
  const base = mkdtempSync(join(tmpdir(), "kiln-b4env-"));
  try {
    writeFileSync(join(base, ".gitconfig"), "[b4]\n\tmidmask = https://evil.example/%s\n\tattestation-policy = hardfail\n");
    await run(["git", "init", "-q", join(base, "repo")]);
    await run(["git", "-C", join(base, "repo"), "config", "b4.linkmask", "https://repo.example/%s"]);
    const staging = join(base, "repo", "staging");
    mkdirSync(staging, { recursive: true });
    const ask = async (env: Record<string, string>) => {
      const r = await run(["git", "config", "-z", "--get-regexp", "b4\\..*"], { cwd: staging, env, allowFail: true });
      return Object.fromEntries(r.stdout.split("\0").filter(Boolean).map((l) => l.split("\n") as [string, string]));
    };
    // without kiln's environment, git finds both the user's and the repository's settings
    const plain = await ask({ HOME: base, XDG_CONFIG_HOME: join(base, ".config") });
    assert.equal(plain["b4.midmask"], "https://evil.example/%s");
    assert.equal(plain["b4.linkmask"], "https://repo.example/%s");
    const env = b4Env("http://127.0.0.1:4321/all/", staging);
    const got = await ask({ ...env });
    assert.deepEqual(got, {
      "b4.midmask": "http://127.0.0.1:4321/all/%s",
      "b4.linkmask": "http://127.0.0.1:4321/all/%s",
      "b4.searchmask": "http://127.0.0.1:4321/all/?x=m&t=1&q=%s",
      "b4.attestation-policy": "off",
    });
    // and the repository around the staging folder is not found (GIT_CEILING_DIRECTORIES)
    const top = await run(["git", "rev-parse", "--show-toplevel"], { cwd: staging, env, allowFail: true });
    assert.notEqual(top.exitCode, 0, top.stdout);
    assert.equal(env.HOME, join(staging, "home"));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
