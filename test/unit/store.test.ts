import { test } from "node:test";
import assert from "node:assert/strict";
import { planGc, type StoreEntry } from "../../src/store/store.js";
import type { Manifest } from "../../src/core/manifest.js";

const day = 86400_000;
const now = new Date("2026-11-22T00:00:00Z");
const entry = (release: string, ageDays: number, target = "base"): StoreEntry => ({
  release,
  dir: `/s/${release}`,
  bytes: 1,
  lastUsed: new Date(now.getTime() - ageDays * day),
  manifest: { project: { name: "p", dir: "/p", kiln_toml_sha256: "x" }, target, arch: "x86_64" } as unknown as Manifest,
});

test("gc removes entries unused for longer than the limit", () => {
  const es = [entry("a", 1), entry("b", 40), entry("c", 31)];
  assert.deepEqual(planGc(es, { maxAgeDays: 30, now }).map((e) => e.release).sort(), ["b", "c"]);
});

test("gc keeps the newest N per (project, target, arch)", () => {
  const es = [entry("a1", 1), entry("a2", 2), entry("a3", 3), entry("d1", 5, "debug")];
  assert.deepEqual(planGc(es, { keepLatest: 2, now }).map((e) => e.release), ["a3"]);
  assert.deepEqual(planGc(es, { keepLatest: 1, maxAgeDays: 4, now }).map((e) => e.release).sort(), ["a2", "a3", "d1"]);
});
