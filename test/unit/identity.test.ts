import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  computeDigest, stripLocalversion, blankHostPaths, normaliseMakeFlags, slugify, fitLabel,
  inferLabel, seriesRevision, bakeLocalversion, stripBakedSuffix, releaseString, UTS_LEN,
} from "../../src/core/identity.js";

/** test/fixtures, from dist/test/unit. */
const FIXTURES = join(fileURLToPath(new URL(".", import.meta.url)), "..", "..", "..", "test", "fixtures");

const CONFIG = `#
# Automatically generated file; DO NOT EDIT.
# Linux/x86 6.12.117 Kernel Configuration
#
CONFIG_CC_VERSION_TEXT="gcc (Debian 12.2.0-14+deb12u1) 12.2.0"
CONFIG_LOCALVERSION="-microvm-0123456789ab"
# CONFIG_LOCALVERSION_AUTO is not set
CONFIG_64BIT=y
`;

test("digest: pinned vectors (sha256 over config without LOCALVERSION, toolchain, flags, tree; NUL-joined; 12 hex)", () => {
  // Worked out once, by hand (python3 hashlib over the same bytes), and pinned: a change to the
  // algorithm or its normalisation changes every identity in every store, and must fail here.
  const inp = { config: CONFIG, toolchain: "toolchain=gcc\ngcc\t12\tabc", makeFlags: ["ARCH=x86_64", "KCFLAGS=-ffile-prefix-map=/a/src/="], sourceTree: "4b825dc642cb6eb9a060e54bf8d69288fbee4904" };
  assert.equal(computeDigest(inp), "f08e70005932");
  // four empty parts: sha256 of three NUL bytes
  assert.equal(computeDigest({ config: "", toolchain: "", makeFlags: [], sourceTree: "" }), "709e80c88487");
});

test("digest: the example's real x86_64 build, down to its full uname -r", () => {
  // Inputs recorded from a real `kiln build --arch x86_64` of examples/microvm on Debian 12
  // (test/fixtures/identity/microvm-x86_64/): the installed config-<release>, the manifest's
  // toolchain record and make flags, and the patched source tree.
  const dir = join(FIXTURES, "identity", "microvm-x86_64");
  const rec = JSON.parse(readFileSync(join(dir, "identity.json"), "utf8")) as {
    uname_r: string; kernel_version: string; label: string; toolchain: string; tools: { name: string; version: string; sha256: string }[]; make_flags: string[]; source_tree: string;
  };
  const config = readFileSync(join(dir, "config"), "utf8");
  const toolchain = [`toolchain=${rec.toolchain}`, ...rec.tools.map((t) => `${t.name}\t${t.version}\t${t.sha256}`)].join("\n");
  const digest = computeDigest({ config, toolchain, makeFlags: rec.make_flags, sourceTree: rec.source_tree });
  assert.equal(rec.uname_r, "6.12.117-microvm-b66e1bf65485", "the recorded uname -r");
  assert.equal(digest, "b66e1bf65485");
  assert.equal(releaseString(rec.kernel_version, rec.label, digest), rec.uname_r);
  // the config the kernel was built with names the same identity in its LOCALVERSION
  assert.match(config, new RegExp(`^CONFIG_LOCALVERSION="-${rec.label}-${digest}"$`, "m"));
});

test("the LOCALVERSION line does not change the digest; other lines do", () => {
  const base = { toolchain: "t", makeFlags: [], sourceTree: "x" };
  const a = computeDigest({ ...base, config: CONFIG });
  const b = computeDigest({ ...base, config: CONFIG.replace("-microvm-0123456789ab", "-other-ffffffffffff") });
  const c = computeDigest({ ...base, config: CONFIG.replace("CONFIG_64BIT=y", "# CONFIG_64BIT is not set") });
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.ok(!stripLocalversion(CONFIG).includes("CONFIG_LOCALVERSION="));
  assert.ok(stripLocalversion(CONFIG).includes("# CONFIG_LOCALVERSION_AUTO is not set"));
});

test("host paths in prefix maps are blanked, so another folder gives the same identity", () => {
  assert.equal(blankHostPaths("KCFLAGS=-ffile-prefix-map=/home/a/src/= -fdebug-prefix-map=/x/y=z"), "KCFLAGS=-ffile-prefix-map== -fdebug-prefix-map==z");
  const one = normaliseMakeFlags(["KCFLAGS=-ffile-prefix-map=/a/src/= -ffile-prefix-map=/a/build/="]);
  const two = normaliseMakeFlags(["KCFLAGS=-ffile-prefix-map=/tmp/elsewhere/src/= -ffile-prefix-map=/tmp/elsewhere/build/="]);
  assert.equal(one, two);
  const base = { config: CONFIG, toolchain: "t", sourceTree: "x" };
  assert.equal(computeDigest({ ...base, makeFlags: ["KCFLAGS=-ffile-prefix-map=/a/="] }), computeDigest({ ...base, makeFlags: ["KCFLAGS=-ffile-prefix-map=/b/c/="] }));
  assert.notEqual(computeDigest({ ...base, makeFlags: ["W=1"] }), computeDigest({ ...base, makeFlags: [] }));
});

test("slug rules: runs outside [A-Za-z0-9._-] become -, ends stripped, lower-case", () => {
  assert.equal(slugify("don't build bios/contexts over multiple iomaps"), "don-t-build-bios-contexts-over-multiple-iomaps");
  assert.equal(slugify("  --Hello, World!.. "), "hello-world");
  assert.equal(slugify("hch-misc"), "hch-misc");
  assert.equal(slugify("mirror/master"), "mirror-master");
});

test("label budget is 64 - len(version) - 14, cut at the last dash, -vN kept, digest never cut", () => {
  const kv = "7.1.0";
  const budget = UTS_LEN - kv.length - 14;
  const long = "don-t-build-bios-contexts-over-multiple-iomaps-and-then-some-more-v3";
  const fitted = fitLabel(long, kv);
  assert.ok(fitted.length <= budget, `${fitted} fits ${budget}`);
  assert.ok(fitted.endsWith("-v3"));
  assert.ok(!/[-._]-v3$/.test(fitted));
  const rel = releaseString(kv, long, "c0bee73009a8");
  assert.ok(rel.length <= 64);
  assert.ok(rel.endsWith("-c0bee73009a8"));
  assert.equal(fitLabel("vanilla", kv), "vanilla");
  // The seed's example stays whole.
  assert.equal(releaseString("7.1.0", "vanilla", "c0bee73009a8"), "7.1.0-vanilla-c0bee73009a8");
  // Cut at a dash: no half word.
  const words = fitLabel("alpha-beta-gamma-delta-epsilon-zeta-eta-theta-iota-kappa", "6.12.117");
  assert.ok("alpha-beta-gamma-delta-epsilon-zeta-eta-theta-iota-kappa".startsWith(words));
  assert.ok(!words.endsWith("-"));
  assert.ok(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"].includes(words.split("-").pop()!));
});

test("label precedence: explicit, series subject with -vN for N>=2, vanilla, ref slug", () => {
  assert.equal(inferLabel({ explicit: "My Label", seriesSubject: "[PATCH v3 0/4] x", upstreamRelease: true }), "my-label");
  assert.equal(inferLabel({ seriesSubject: "[PATCH v3 0/7] don't build bios/contexts over multiple iomaps" }), "don-t-build-bios-contexts-over-multiple-iomaps-v3");
  assert.equal(inferLabel({ seriesSubject: "don't build bios/contexts over multiple iomaps v3" }), "don-t-build-bios-contexts-over-multiple-iomaps-v3");
  assert.equal(inferLabel({ seriesSubject: "[PATCH 0/2] iomap: fix things" }), "iomap-fix-things");
  assert.equal(inferLabel({ seriesSubject: "[PATCH v1 0/2] iomap: fix things" }), "iomap-fix-things");
  assert.equal(inferLabel({ upstreamRelease: true }), "vanilla");
  assert.equal(inferLabel({ ref: "hch-misc" }), "hch-misc");
  assert.equal(seriesRevision("[PATCH RFC v12 3/9] foo"), 12);
  assert.equal(seriesRevision("no revision here"), undefined);
});

test("baking is idempotent and replaces a previous identity suffix", () => {
  const once = bakeLocalversion("", "microvm", "0123456789ab");
  assert.equal(once, "-microvm-0123456789ab");
  assert.equal(bakeLocalversion(once, "microvm", "0123456789ab"), once);
  assert.equal(bakeLocalversion(once, "microvm", "ffffffffffff"), "-microvm-ffffffffffff");
  assert.equal(bakeLocalversion("-custom", "microvm", "0123456789ab"), "-custom-microvm-0123456789ab");
  assert.equal(bakeLocalversion("-custom-microvm-0123456789ab", "microvm", "aaaaaaaaaaaa"), "-custom-microvm-aaaaaaaaaaaa");
  assert.equal(stripBakedSuffix("-0123456789ab"), "");
  assert.equal(bakeLocalversion("", "", "0123456789ab"), "-0123456789ab");
});
