/**
 * `kiln check repro` on the bundled example: two clean builds from the pin in two folders, the
 * second with a cold compiler cache, byte-identical artifacts and vmlinux (the "the
 * example must pass"). Two full compiles, one with a cold compiler cache: about 6 minutes on two
 * idle cores, far more on a shared machine; in test/full/ (npm run test:full) for that reason.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { kiln, exampleCopy, removeProject, TEST_HOME } from "../support/kiln.js";
import { needSource } from "../support/needs.js";

test(
  "kiln check repro: the example builds byte-identically twice",
  { skip: needSource("6.12"), timeout: 120 * 60_000 },
  async () => {
    const proj = exampleCopy("shipcli-repro");
    try {
      const r = await kiln(["-C", proj, "--json", "check", "repro", "--arch", "x86_64", "-j2"], { home: TEST_HOME });
      assert.equal(r.code, 0, r.stderr.split("\n").slice(-30).join("\n"));
      const j = JSON.parse(r.stdout) as { release: string; differences: unknown[]; root: string; sha256: string };
      assert.deepEqual(j.differences, []);
      assert.match(j.release, /^6\.12\.\d+-microvm-[0-9a-f]{12}$/);
      assert.match(j.sha256, /^[0-9a-f]{64}$/);
      assert.match(r.stderr, /second \(cold compiler cache\) build/);
      assert.ok(!existsSync(j.root), "both builds are removed when they agree");
    } finally {
      removeProject(proj);
    }
  },
);
