/**
 * The pure parts of kiln bump: the new pin from the command line, the kiln.toml edit --apply
 * makes, the refreshed patch's header and trailer, the gate over patch classes, the report text.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { newPinFor, rewritePinTable } from "../../src/bump/pin.js";
import { assemble, patchTrailer } from "../../src/bump/refresh.js";
import { patchGate, actionFor } from "../../src/bump/bump.js";
import type { PatchVerdict } from "../../src/bump/classify.js";
import { parseProvenance } from "../../src/core/patch_headers.js";
import type { Pin } from "../../src/project/schema.js";
import { ProjectError } from "../../src/errors.js";

const pins: Record<string, Pin> = {
  linux: { kind: "debian", debian: "linux-source-6.1" },
  next: { kind: "debian", debian: "linux-source-6.12" },
  up: { kind: "git", git: "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git", ref: "v6.1.119" },
};

test("the new pin: a package, a Debian version, a declared source, a ref, a tarball", () => {
  assert.deepEqual(newPinFor(pins, "linux", { to: "linux-source-6.12" }).pin, { kind: "debian", debian: "linux-source-6.12" });
  assert.deepEqual(newPinFor(pins, "linux", { to: "6.12" }).pin, { kind: "debian", debian: "linux-source-6.12" });
  assert.deepEqual(newPinFor(pins, "linux", { to: "6.12.57-1" }).pin, { kind: "debian", debian: "linux-source-6.12", version: "6.12.57-1" });
  assert.deepEqual(newPinFor(pins, "linux", { to: "6.1.119-1~deb11u1" }).pin, { kind: "debian", debian: "linux-source-6.1", version: "6.1.119-1~deb11u1" });
  assert.equal(newPinFor(pins, "linux", { to: "next" }).asked, "--to next ([source.next])");
  assert.deepEqual(newPinFor(pins, "up", { ref: "v6.12.1" }).pin, { kind: "git", git: pins.up!.kind === "git" ? pins.up!.git : "", ref: "v6.12.1" });
  const sha = "a".repeat(64);
  assert.deepEqual(newPinFor(pins, "linux", { url: "https://cdn.kernel.org/pub/linux/kernel/v6.x/linux-6.12.tar.xz", sha256: sha }).pin, { kind: "url", url: "https://cdn.kernel.org/pub/linux/kernel/v6.x/linux-6.12.tar.xz", sha256: sha, mirrors: [] });
});

test("the new pin: clear errors for what cannot be a pin", () => {
  assert.throws(() => newPinFor(pins, "nope", { to: "linux-source-6.12" }), (e: Error) => e instanceof ProjectError && /source "nope" is not declared/.test(e.message));
  assert.throws(() => newPinFor(pins, "linux", {}), /needs the new version/);
  assert.throws(() => newPinFor(pins, "linux", { to: "x", ref: "y" }), /give one of --to, --url\/--sha256, --ref \(got --to and --ref\)/);
  assert.throws(() => newPinFor(pins, "linux", { ref: "v6.12" }), /--ref needs a git pin; source "linux" is a debian pin/);
  assert.throws(() => newPinFor(pins, "linux", { url: "https://x/y.tar.xz" }), /--url and --sha256 go together/);
  assert.throws(() => newPinFor(pins, "linux", { url: "ftp://x", sha256: "a".repeat(64) }), /expected an http/);
  assert.throws(() => newPinFor(pins, "linux", { to: "linux" }), /is the source being bumped/);
  assert.throws(() => newPinFor(pins, "linux", { to: "bookworm" }), /not a declared source, a Debian package/);
});

test("--apply's kiln.toml edit replaces the table's keys and keeps its comments and the rest", () => {
  const toml = `name = "microvm"\n\n# The pin\n[source.linux]\n# which package\ndebian = "linux-source-6.1"\nversion = "6.1.119-1"\n\n[source.next]\ndebian = "linux-source-6.12"\n\n[target.base]\nsource = "linux"\n`;
  const out = rewritePinTable(toml, "linux", { kind: "debian", debian: "linux-source-6.12" });
  assert.equal(out, `name = "microvm"\n\n# The pin\n[source.linux]\n# which package\ndebian = "linux-source-6.12"\n\n[source.next]\ndebian = "linux-source-6.12"\n\n[target.base]\nsource = "linux"\n`);
  const url = rewritePinTable(toml, "linux", { kind: "url", url: "https://x/linux-6.12.tar.xz", sha256: "b".repeat(64), mirrors: [] });
  assert.match(url, /\[source\.linux\]\n# which package\nurl = "https:\/\/x\/linux-6\.12\.tar\.xz"\nsha256 = "b{64}"\n\n\[source\.next\]/);
  assert.throws(() => rewritePinTable(toml, "other", pins.linux!), /no \[source\.other\] table/);
  assert.throws(() => rewritePinTable(`[source.linux]\nurl = "x"\nmirrors = [\n  "a",\n]\n`, "linux", pins.linux!), /spans lines/);
});

test("a refreshed patch keeps the header and the format-patch trailer around the new diff", () => {
  const orig = "From: A <a@example.org>\nSubject: [PATCH] x\nUpstream-Status: Pending\n---\n init/x.c | 1 +\n\ndiff --git a/init/x.c b/init/x.c\n--- a/init/x.c\n+++ b/init/x.c\n@@ -10,3 +10,4 @@\n a\n+b\n c\n d\n-- \n2.43.0\n\n";
  assert.equal(patchTrailer(orig), "-- \n2.43.0\n\n");
  const diff = "diff --git a/init/x.c b/init/x.c\n--- a/init/x.c\n+++ b/init/x.c\n@@ -12,3 +12,4 @@\n a\n+b\n c\n d\n";
  assert.equal(assemble(orig, [diff]), "From: A <a@example.org>\nSubject: [PATCH] x\nUpstream-Status: Pending\n---\n init/x.c | 1 +\n\n" + diff + "-- \n2.43.0\n\n");
  assert.equal(assemble("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n", ["--- a/x\n+++ b/x\n@@ -2 +2 @@\n-a\n+b\n"]), "--- a/x\n+++ b/x\n@@ -2 +2 @@\n-a\n+b\n");
});

const v = (name: string, cls: PatchVerdict["class"], extra: Partial<PatchVerdict> = {}): PatchVerdict => ({ name, path: `/p/${name}`, class: cls, files: ["x"], hunks: [], gate: [], moved: [], provenance: parseProvenance(""), ...extra });

test("the patch gate: what each class needs to pass", () => {
  const vs = [v("1.patch", "clean"), v("2.patch", "offset", { refreshed: "r" }), v("3.patch", "upstream"), v("4.patch", "conflict"), v("5.patch", "blocked", { blockedBy: "4.patch" }), v("6.patch", "offset", { refreshError: "binary" })];
  assert.deepEqual(patchGate("base", vs, {}).problems, [
    "base: 2.patch applies only at an offset or with fuzz (pass --refresh)",
    "base: 3.patch is already upstream (pass --drop-upstream)",
    "base: 4.patch conflicts with the new tree",
    "base: 5.patch is blocked by 4.patch",
    "base: 6.patch applies only at an offset and cannot be refreshed: binary",
  ]);
  assert.equal(patchGate("base", vs.slice(0, 3), { refresh: true, dropUpstream: true }).ok, true);
  assert.equal(actionFor(vs[4]!, {}), "blocked by 4.patch: rebase that one first");
  assert.equal(actionFor(vs[2]!, { dropUpstream: true }), "drop (removed from the series on --apply)");
});
