import { test } from "node:test";
import assert from "node:assert/strict";
import { packTar, tarHeader, TarReader, TarFormatError, type TarEntryHeader } from "../../src/ship/tar.js";
import { checkEntryPath, checkSymlink } from "../../src/ship/unpack.js";
import { formatSha256Sums, parseSha256Sums, parseSha256File, artifactFileName, fixedMode, isExcluded } from "../../src/ship/artifact.js";

function readAll(tar: Buffer, chunk = 777): { h: TarEntryHeader; data: Buffer }[] {
  const out: { h: TarEntryHeader; data: Buffer[] }[] = [];
  const r = new TarReader({
    entry: (h) => out.push({ h, data: [] }),
    data: (_h, c) => out.at(-1)!.data.push(Buffer.from(c)),
    end: () => {},
  });
  for (let i = 0; i < tar.length; i += chunk) r.write(tar.subarray(i, i + chunk));
  r.finish();
  return out.map((e) => ({ h: e.h, data: Buffer.concat(e.data) }));
}

const long = `lib/modules/6.12.0-x/kernel/${"deep/".repeat(30)}module.ko`;

test("tar round trip: files, folders, symlinks, long names via pax", () => {
  const tar = packTar([
    { entry: { path: "boot", type: "dir", mode: 0o755, mtime: 100 } },
    { entry: { path: "boot/vmlinuz-x", type: "file", mode: 0o644, mtime: 100 }, data: Buffer.alloc(1000, 1) },
    { entry: { path: "empty", type: "file", mode: 0o755, mtime: 100 }, data: Buffer.alloc(0) },
    { entry: { path: long, type: "file", mode: 0o644, mtime: 100 }, data: Buffer.from("ko") },
    { entry: { path: "lib/link", type: "symlink", mode: 0o777, mtime: 100, linkname: "../boot/vmlinuz-x" } },
  ]);
  assert.equal(tar.length % 512, 0);
  for (const chunk of [1, 511, 512, 4096, 1 << 20]) {
    const got = readAll(tar, chunk);
    assert.deepEqual(got.map((e) => [e.h.path, e.h.type, e.h.size, e.h.mode, e.h.mtime]), [
      ["boot", "dir", 0, 0o755, 100],
      ["boot/vmlinuz-x", "file", 1000, 0o644, 100],
      ["empty", "file", 0, 0o755, 100],
      [long, "file", 2, 0o644, 100],
      ["lib/link", "symlink", 0, 0o777, 100],
    ]);
    assert.ok(got[1]!.data.equals(Buffer.alloc(1000, 1)));
    assert.equal(got[3]!.data.toString(), "ko");
    assert.equal(got[4]!.h.linkname, "../boot/vmlinuz-x");
  }
});

test("tar headers are deterministic: owner root 0/0, fixed fields", () => {
  const h = tarHeader({ path: "a", type: "file", mode: 0o644, mtime: 1700000000, size: 3 });
  assert.equal(h.toString("ascii", 108, 115), "0000000");
  assert.equal(h.toString("ascii", 116, 123), "0000000");
  assert.equal(h.toString("ascii", 257, 263), "ustar\0");
  assert.equal(h.toString("ascii", 265, 269), "root");
  assert.ok(tarHeader({ path: "a", type: "file", mode: 0o644, mtime: 1700000000, size: 3 }).equals(h));
  assert.ok(tarHeader({ path: long, type: "file", mode: 0o644, mtime: 5, size: 3 }).equals(tarHeader({ path: long, type: "file", mode: 0o644, mtime: 5, size: 3 })));
});

test("tar reader: truncation, bad checksum, missing end marker", () => {
  const tar = packTar([{ entry: { path: "f", type: "file", mode: 0o644, mtime: 1 }, data: Buffer.alloc(2000, 2) }]);
  assert.throws(() => readAll(tar.subarray(0, 1000)), (e: unknown) => e instanceof TarFormatError && /truncated inside entry f/.test(e.message));
  assert.throws(() => readAll(tar.subarray(0, 2560)), /truncated before the end-of-archive marker/);
  assert.throws(() => readAll(tar.subarray(0, tar.length - 512)), /truncated/);
  const bad = Buffer.from(tar);
  bad[0] = 0x67;
  assert.throws(() => readAll(bad), /header checksum mismatch.*at archive byte 0/);
  assert.throws(() => readAll(Buffer.alloc(700, 0x41)), /checksum/);
});

test("entry path policy", () => {
  for (const [p, why] of [
    ["/etc/passwd", /absolute/],
    ["../x", /\.\./],
    ["a/../../x", /\.\./],
    ["a//b", /empty/],
    ["", /empty/],
    ["a\\..\\b", /backslash/],
  ] as const) {
    assert.match(checkEntryPath(p) ?? "accepted", why, p);
  }
  assert.equal(checkEntryPath("./boot/vmlinuz"), undefined);
  assert.equal(checkEntryPath("lib/modules/x/kernel/a.ko"), undefined);
});

test("symlink policy: relative, ups then names, inside the root", () => {
  assert.equal(checkSymlink("boot/vmlinuz", "vmlinuz-6.12"), undefined);
  assert.equal(checkSymlink("lib/modules/r/x", "../../../boot/a"), undefined);
  assert.match(checkSymlink("lib/x", "/boot/a") ?? "", /absolute/);
  assert.match(checkSymlink("lib/x", "../../etc") ?? "", /outside/);
  assert.match(checkSymlink("x", "..") ?? "", /outside/);
  assert.match(checkSymlink("lib/x", "y/../../z") ?? "", /goes up after going down/);
  assert.match(checkSymlink("lib/x", "") ?? "", /empty/);
});

test("SHA256SUMS: sha256sum -c format, sorted, strict parse", () => {
  const a = "a".repeat(64);
  const b = "b".repeat(64);
  const text = formatSha256Sums([
    { name: "z.tar.zst", sha256: a },
    { name: "a.kernel", sha256: b },
  ]);
  assert.equal(text, `${b}  a.kernel\n${a}  z.tar.zst\n`);
  assert.deepEqual([...parseSha256Sums(text)], [["a.kernel", b], ["z.tar.zst", a]]);
  assert.deepEqual([...parseSha256Sums(`${a.toUpperCase()} *bin\n`)], [["bin", a]]);
  assert.throws(() => parseSha256Sums(`${a}  x\n${a}  x\n`), /listed twice/);
  assert.throws(() => parseSha256Sums(`${a.slice(1)}  x\n`), /malformed checksum line/);
  assert.throws(() => formatSha256Sums([{ name: "a/b", sha256: a }]), /cannot go in SHA256SUMS/);
  assert.equal(parseSha256File(`${a}\n`, "f"), a);
  assert.equal(parseSha256File(`${a}  file.tar.zst\n`, "f"), a);
  assert.throws(() => parseSha256File("", "f.sha256"), /not a sha256 digest/);
});

test("artifact naming, modes and exclusions", () => {
  assert.equal(artifactFileName("blueberry", "6.12.9-vanilla-0123456789ab", "x86_64"), "blueberry-kernel-6.12.9-vanilla-0123456789ab-x86_64.tar.zst");
  assert.throws(() => artifactFileName("a/b", "r", "x86_64"), /characters outside/);
  assert.equal(fixedMode("file", 0o100700), 0o755);
  assert.equal(fixedMode("file", 0o100600), 0o644);
  assert.equal(fixedMode("dir", 0o40700), 0o755);
  assert.ok(isExcluded("lib/modules/6.12.0/build"));
  assert.ok(isExcluded("lib/modules/6.12.0/source"));
  assert.ok(!isExcluded("lib/modules/6.12.0/kernel/build"));
});
