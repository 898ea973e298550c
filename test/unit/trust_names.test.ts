import { test } from "node:test";
import assert from "node:assert/strict";
import { nameProblem, printable } from "../../src/core/identity.js";
import { redactUrl, splitUserinfo, httpLimits } from "../../src/effects/http.js";
import { checkEntry } from "../../src/ship/mirror.js";
import { ownedBootName } from "../../src/ship/fetch.js";

test("names at boundaries: releases, names, arches and tags against the identity grammar", () => {
  assert.equal(nameProblem("release", "6.12.117-microvm-48be8eab6c49"), undefined);
  assert.equal(nameProblem("release", "6.12.0-rc1+-0123456789ab"), undefined);
  assert.equal(nameProblem("release", ".."), '".." is not a name');
  assert.equal(nameProblem("release", "."), '"." is not a name');
  assert.equal(nameProblem("release", "6.12/../x"), "it holds a path separator");
  assert.equal(nameProblem("release", "6.12\x1b[2J"), "it holds a control character");
  assert.equal(nameProblem("release", "6." + "x".repeat(70)), "it is longer than 64 characters");
  assert.match(nameProblem("release", "-rf")!, /a digit first/);
  assert.equal(nameProblem("name", "blueberry"), undefined);
  assert.match(nameProblem("name", "Blue Berry")!, /lower-case/);
  assert.equal(nameProblem("tag", "v6.12.9-r2"), undefined);
  assert.match(nameProblem("tag", "latest")!, /v<version>/);
  assert.equal(nameProblem("arch", "x86_64"), undefined);
  assert.equal(nameProblem("version", ""), "it is empty");
  assert.equal(printable("a\x1b[31mb\n"), "a\\x1b[31mb\\n");
});

test("index entries must use the one layout kiln publishes", () => {
  const k = { name: "demo", release: "6.12.0-0123456789ab", kernel_version: "6.12.0", arch: "x86_64", tag: "v6.12.0", artifact: "demo/6.12.0-0123456789ab/demo-kernel-6.12.0-0123456789ab-x86_64.tar.zst", sha256: "a".repeat(64), size: 10, sums: "demo/6.12.0-0123456789ab/SHA256SUMS", signature: "demo/6.12.0-0123456789ab/SHA256SUMS.minisig", files: ["manifest.json"], published: "2026-01-01T00:00:00Z" };
  checkEntry(k, "u");
  assert.throws(() => checkEntry({ ...k, artifact: "other/x.tar.zst" }, "u"), /artifact is "other\/x\.tar\.zst", expected "demo\//);
  assert.throws(() => checkEntry({ ...k, files: ["../x"] }, "u"), /unsafe file name/);
  assert.throws(() => checkEntry({ ...k, size: 0 }, "u"), /size 0 is not a positive/);
  assert.ok(ownedBootName("vmlinuz-6.12.0-0123456789ab", k.release));
  assert.ok(!ownedBootName("grub", k.release));
  assert.ok(!ownedBootName(".kiln-kernel-other.json", k.release));
  assert.ok(!ownedBootName("vmlinuz-6.1.0-other", k.release));
});

test("credentials never reach a message; limits come from the environment with a clear error", () => {
  assert.equal(redactUrl("GET failed for https://alice:hunter2@mirror.example/x and http://tok@h/y"), "GET failed for https://***@mirror.example/x and http://***@h/y");
  const s = splitUserinfo("https://alice:p%40ss@mirror.example/k/");
  assert.equal(s.url, "https://mirror.example/k/");
  assert.equal(Buffer.from(s.authorization!.slice(6), "base64").toString(), "alice:p@ss");
  assert.equal(splitUserinfo("https://mirror.example/").authorization, undefined);
  assert.deepEqual(httpLimits({ KILN_HTTP_DEADLINE: "90", KILN_HTTP_IDLE_TIMEOUT: "0.5" }), { deadlineMs: 90_000, idleMs: 500 });
  assert.throws(() => httpLimits({ KILN_HTTP_DEADLINE: "soon" }), /KILN_HTTP_DEADLINE="soon" is not a positive number of seconds/);
});
