/**
 * `kiln build` outputs on the bundled example (x86_64): artifact, bundle and Debian packages
 * from kbuild's bindeb-pkg, checked with dpkg-deb --info/--contents and extracted into a
 * throwaway root. It runs in the test store's project folder, whose warm tree holds the store's
 * x86_64 build (test/support/store.ts builds it with --tree): the build is reused from the store
 * and bindeb-pkg packages that tree with the build's own make flags, so nothing recompiles.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { kiln } from "../support/kiln.js";
import { exampleKernel } from "../support/store.js";
import { inspectDeb, checkKernelImageDeb, assertKernelDeb } from "../../src/ship/deb.js";
import { inspectBundleFile } from "../../src/ship/bundle_file.js";
import { GateFailure } from "../../src/errors.js";
import { keygen } from "../../src/ship/minisign.js";
import type { Manifest } from "../../src/core/manifest.js";
import { listAll } from "./ship_cli_support.js";
import { haveCommand, needs, needSource } from "../support/needs.js";

const canDeb = haveCommand("dpkg-buildpackage") && haveCommand("dh_listpackages");

test(
  "kiln build writes the artifact, the bundle and bindeb-pkg packages into out/<release>",
  { skip: needs(!canDeb && "dpkg-dev/debhelper are not installed (apt-get install dpkg-dev debhelper)") || needSource("6.12"), timeout: 60 * 60_000 },
  async () => {
    const k = exampleKernel("x86_64");
    const proj = k.project;
    const base = mkdtempSync("/var/tmp/kiln-ship-cli-outputs-");
    const toml = join(proj, "kiln.toml");
    const before = readFileSync(toml, "utf8");
    try {
      const withOutputs = before.replace('outputs = ["install"]', 'outputs = ["install", "artifact", "bundle", "deb"]');
      assert.notEqual(withOutputs, before, "examples/microvm/kiln.toml lists outputs = [\"install\"]");
      writeFileSync(toml, withOutputs);
      const r = await kiln(["-C", proj, "--json", "build", "--arch", "x86_64", "--tree"]);
      assert.equal(r.code, 0, r.stderr.split("\n").slice(-30).join("\n"));
      const m = (JSON.parse(r.stdout) as Manifest[])[0]!;
      const rel = m.uts_release!;
      assert.equal(rel, k.release, "the store's build, reused");
      const out = join(proj, "out", rel);
      const files = listAll(out);
      const art = `microvm-kernel-${rel}-x86_64.tar.zst`;
      for (const f of [art, `${art}.sha256`, "manifest.json", `linux-${rel}-base-x86_64.kernel`]) assert.ok(files.includes(f), `${f} in ${files.join(", ")}`);
      const image = files.find((f) => f.startsWith(`linux-image-${rel}_`) && f.endsWith(".deb"));
      assert.ok(image, `a linux-image package in ${files.join(", ")}`);
      assert.equal(readFileSync(join(out, `${art}.sha256`), "utf8").trim(), execFileSync("sha256sum", [join(out, art)], { encoding: "utf8" }).split(" ")[0]);
      assert.ok(inspectBundleFile(join(out, `linux-${rel}-base-x86_64.kernel`)).ok);
      // the package: fields, contents, extraction into a throwaway root
      const info = await inspectDeb(join(out, image));
      assert.equal(info.package, `linux-image-${rel}`);
      assert.equal(info.architecture, "amd64");
      assert.deepEqual(checkKernelImageDeb(info, rel, { modules: false }), []);
      assert.ok(info.entries.some((e) => e.path === `boot/vmlinuz-${rel}` && e.type === "file" && e.size > 100_000));
      await assertKernelDeb(join(out, image), rel, { modules: false, root: join(base, "root") });
      assert.ok(existsSync(join(base, "root", "boot", `vmlinuz-${rel}`)));
      assert.ok(existsSync(join(base, "root", "boot", `System.map-${rel}`)));
      await assert.rejects(assertKernelDeb(join(out, image), "6.99.0", { modules: true }), (e: unknown) => e instanceof GateFailure && /boot\/vmlinuz-6\.99\.0 is missing/.test(e.message));
      // packaging compiled nothing: the build folder's vmlinux is still the store's
      assert.ok(readFileSync(join(k.buildDir, "vmlinux")).equals(readFileSync(join(k.storeEntry, "vmlinux"))), "bindeb-pkg relinked vmlinux");
      // no packaging leftovers beside the build folder, no staging folders beside out/<release>
      assert.deepEqual(listAll(join(proj, "out")).filter((f) => f.startsWith(".")), []);
      // publish: the packages go out with the artifact, covered by the signed SHA256SUMS
      keygen({ publicPath: join(base, "pub.key"), secretPath: join(base, "sign.key") });
      writeFileSync(toml, `${readFileSync(toml, "utf8")}\n[remote.pkgs]\nurl = ${JSON.stringify(join(base, "mirror"))}\n\n[ship]\npublish = ["pkgs"]\nsigning_key = ${JSON.stringify(join(base, "sign.key"))}\n`);
      const pub = await kiln(["-C", proj, "publish", "--arch", "x86_64"]);
      assert.equal(pub.code, 0, pub.stderr);
      const relDir = join(base, "mirror", "microvm", rel);
      const sums = readFileSync(join(relDir, "SHA256SUMS"), "utf8");
      const debs = files.filter((f) => f.endsWith(".deb"));
      assert.ok(debs.length >= 1);
      for (const d of debs) {
        assert.ok(readFileSync(join(relDir, d)).equals(readFileSync(join(out, d))), `${d} published as made`);
        assert.match(sums, new RegExp(`^${execFileSync("sha256sum", [join(out, d)], { encoding: "utf8" }).split(" ")[0]}  ${d.replace(/[.+]/g, "\\$&")}$`, "m"));
      }
      execFileSync("minisign", ["-Vm", join(relDir, "SHA256SUMS"), "-p", join(base, "pub.key")], { stdio: "ignore" });
      // again: reused, the outputs are made again with the same artifact bytes
      const first = readFileSync(join(out, art));
      const again = await kiln(["-C", proj, "build", "--arch", "x86_64", "--tree"]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /^reused /m);
      assert.ok(readFileSync(join(out, art)).equals(first), "byte-identical artifact");
    } finally {
      writeFileSync(toml, before);
      rmSync(join(proj, "out"), { recursive: true, force: true });
      rmSync(base, { recursive: true, force: true });
    }
  },
);
