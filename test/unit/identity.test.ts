import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  computeDigest, stripLocalversion, blankHostPaths, normaliseMakeFlags, slugify, fitLabel,
  inferLabel, seriesRevision, bakeLocalversion, stripBakedSuffix, releaseString, UTS_LEN,
} from "../../src/core/identity.js";

const CONFIG = `#
# Automatically generated file; DO NOT EDIT.
# Linux/x86 6.12.117 Kernel Configuration
#
CONFIG_CC_VERSION_TEXT="gcc (Debian 12.2.0-14+deb12u1) 12.2.0"
CONFIG_LOCALVERSION="-microvm-0123456789ab"
# CONFIG_LOCALVERSION_AUTO is not set
CONFIG_64BIT=y
`;

test("digest is sha256 over the four parts joined by NUL, first 12 hex", () => {
  const inp = { config: CONFIG, toolchain: "toolchain=gcc\ngcc\t12\tabc", makeFlags: ["ARCH=x86_64", "KCFLAGS=-ffile-prefix-map=/a/src/="], sourceTree: "4b825dc642cb6eb9a060e54bf8d69288fbee4904" };
  const want = createHash("sha256")
    .update([stripLocalversion(CONFIG), inp.toolchain, "ARCH=x86_64 KCFLAGS=-ffile-prefix-map==", inp.sourceTree].join("\0"))
    .digest("hex")
    .slice(0, 12);
  assert.equal(computeDigest(inp), want);
  assert.match(want, /^[0-9a-f]{12}$/);
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
