/**
 * `kiln build` outputs on the bundled example (x86_64): artifact, bundle and Debian packages
 * from kbuild's bindeb-pkg in the warm tree, checked with dpkg-deb --info/--contents and
 * extracted into a throwaway root. Own KILN_HOME (the source tarball copied in) with the test
 * home's compiler cache, so the compile is mostly cache hits; a few minutes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kiln, exampleCopy, removeProject, TEST_HOME } from "../support/kiln.js";
import { inspectDeb, checkKernelImageDeb, assertKernelDeb } from "../../src/ship/deb.js";
import { inspectBundleFile } from "../../src/ship/bundle_file.js";
import type { Manifest } from "../../src/core/manifest.js";
import { listAll } from "./ship_cli_support.js";
import { haveCommand, needs, needSource } from "../support/needs.js";

const canDeb = haveCommand("dpkg-buildpackage") && haveCommand("dh_listpackages");

test(
  "kiln build writes the artifact, the bundle and bindeb-pkg packages into out/<release>",
  { skip: needs(!canDeb && "dpkg-dev/debhelper are not installed (apt-get install dpkg-dev debhelper)") || needSource("6.12"), timeout: 60 * 60_000 },
  async () => {
    const base = mkdtempSync("/var/tmp/kiln-ship-cli-outputs-");
    const proj = exampleCopy("shipcli-outputs");
    try {
      const home = join(base, "home");
      if (existsSync(join(TEST_HOME, "downloads"))) cpSync(join(TEST_HOME, "downloads"), join(home, "downloads"), { recursive: true });
      const env = { KILN_CCACHE_DIR: join(TEST_HOME, "ccache") };
      writeFileSync(join(proj, "kiln.toml"), readFileSync(join(proj, "kiln.toml"), "utf8").replace('outputs = ["install"]', 'outputs = ["install", "artifact", "bundle", "deb"]'));
      const r = await kiln(["-C", proj, "--json", "build", "--arch", "x86_64"], { home, env });
      assert.equal(r.code, 0, r.stderr.split("\n").slice(-30).join("\n"));
      const m = (JSON.parse(r.stdout) as Manifest[])[0]!;
      const rel = m.uts_release!;
      const out = join(proj, "out", rel);
      const files = listAll(out);
      const art = `microvm-kernel-${rel}-x86_64.tar.zst`;
      for (const f of [art, `${art}.sha256`, "manifest.json", `linux-${rel}-base-x86_64.kernel`]) assert.ok(files.includes(f), `${f} in ${files.join(", ")}`);
      const image = files.find((f) => f.startsWith(`linux-image-${rel}_`) && f.endsWith(".deb"));
      assert.ok(image, `a linux-image package in ${files.join(", ")}`);
      assert.equal(readFileSync(join(out, `${art}.sha256`), "utf8").trim(), execFileSync("sha256sum", [join(out, art)], { encoding: "utf8" }).split(" ")[0]);
      assert.ok(inspectBundleFile(join(out, `linux-${rel}-base-x86_64.kernel`)).ok);
      const info = await inspectDeb(join(out, image));
      assert.equal(info.package, `linux-image-${rel}`);
      assert.equal(info.architecture, "amd64");
      assert.deepEqual(checkKernelImageDeb(info, rel, { modules: false }), []);
      await assertKernelDeb(join(out, image), rel, { modules: false, root: join(base, "root") });
      assert.ok(existsSync(join(base, "root", "boot", `vmlinuz-${rel}`)));
      // no packaging leftovers beside the build folder, no staging folders beside out/<release>
      assert.deepEqual(listAll(join(proj, "out")).filter((f) => f.startsWith(".")), []);
      // again: reused, the outputs are made again with the same artifact bytes
      const before = readFileSync(join(out, art));
      const again = await kiln(["-C", proj, "build", "--arch", "x86_64"], { home, env });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /^reused /m);
      assert.ok(readFileSync(join(out, art)).equals(before), "byte-identical artifact");
    } finally {
      removeProject(proj);
      rmSync(base, { recursive: true, force: true });
    }
  },
);
