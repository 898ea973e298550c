import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { manifestJsonSchema, parseGeneratedHeaders, ManifestSchema } from "../../src/core/manifest.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

test("schemas/manifest.schema.json is generated from the manifest definition (npm run schema)", () => {
  const shipped = JSON.parse(readFileSync(join(REPO, "schemas/manifest.schema.json"), "utf8"));
  assert.deepEqual(shipped, JSON.parse(JSON.stringify(manifestJsonSchema())));
});

test("provenance is read from the kernel's generated headers", () => {
  // include/generated/{utsrelease,compile,utsversion}.h of a kiln build of the example (6.12.117)
  const dir = join(REPO, "test/fixtures/generated");
  const h = parseGeneratedHeaders(["utsrelease.h", "compile.h", "utsversion.h"].map((f) => readFileSync(join(dir, f), "utf8")));
  assert.match(h.UTS_RELEASE!, /^6\.12\.117-microvm-[0-9a-f]{12}$/);
  assert.equal(h.LINUX_COMPILE_BY, "kiln");
  assert.equal(h.LINUX_COMPILE_HOST, "kiln");
  assert.equal(h.UTS_MACHINE, "x86_64");
  assert.match(h.LINUX_COMPILER!, /^gcc \(Debian 12\.2\.0-14\+deb12u1\) 12\.2\.0, GNU ld \(GNU Binutils for Debian\) 2\.40$/);
  assert.equal(h.UTS_VERSION, "#1 Sat Nov 14 12:56:01 UTC 2026", "the pinned timestamp, not the build time");
});

test("a running manifest validates; a bad status does not", () => {
  const m = {
    schema: "kiln.manifest/v1", status: "running", started_at: "2026-11-22T00:00:00Z", kiln_version: "0.1.0",
    project: { name: "p", dir: "/p", kiln_toml_sha256: "x" }, target: "base", arch: "x86_64",
    inputs: { source: { name: "linux", kind: "debian", tree: "t", timestamp: 1 }, series: [], config_method: "fragments", fragments: [], toolchain: "gcc", make_vars: {}, label: "l" },
    source_tree: "t", steps: {}, reproduce: "kiln build",
  };
  assert.equal(ManifestSchema.safeParse(m).success, true);
  assert.equal(ManifestSchema.safeParse({ ...m, status: "maybe" }).success, false);
});
