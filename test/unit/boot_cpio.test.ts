import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canonicalEntries, readCpio, writeCpio, type CpioEntry } from "../../src/boot/cpio.js";
import { initramfsEntries } from "../../src/boot/init.js";

const isRoot = process.getuid?.() === 0;

function sample(withDevice: boolean): CpioEntry[] {
  const e: CpioEntry[] = [
    { type: "file", path: "init", mode: 0o755, data: Buffer.from("#!/bin/sh\necho hi\n") },
    { type: "file", path: "etc/odd-size", mode: 0o600, data: Buffer.from("abcde") },
    { type: "file", path: "etc/empty", mode: 0o644, data: Buffer.alloc(0) },
    { type: "file", path: "usr/share/big", mode: 0o644, data: Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251)) },
    { type: "symlink", path: "bin/sh", target: "busybox" },
    { type: "dir", path: "tmp", mode: 0o1777 },
    { type: "dir", path: "proc", mode: 0o555 },
  ];
  if (withDevice) e.push({ type: "char", path: "dev/console", mode: 0o600, major: 5, minor: 1 });
  return e;
}

function cpioTool(args: string[], input: Buffer, cwd?: string): string {
  return execFileSync("cpio", args, { input, cwd, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
}

test("the same entries in any order give the same bytes", () => {
  const a = writeCpio(sample(true));
  const b = writeCpio([...sample(true)].reverse());
  assert.ok(a.equals(b));
  assert.ok(writeCpio(sample(true), { mtime: 5 }).length === a.length);
  assert.ok(!writeCpio(sample(true), { mtime: 5 }).equals(a));
});

test("entries are sorted, parents are added, owners and mtimes are fixed", () => {
  const recs = readCpio(writeCpio(sample(true), { mtime: 1_700_000_000 }));
  const names = recs.map((r) => r.name);
  assert.deepEqual(names, [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
  for (const p of ["bin", "dev", "etc", "usr", "usr/share"]) assert.ok(names.includes(p), `${p} added`);
  assert.ok(names.indexOf("usr") < names.indexOf("usr/share"));
  for (const r of recs) {
    assert.equal(r.uid, 0);
    assert.equal(r.gid, 0);
    assert.equal(r.mtime, 1_700_000_000);
  }
  assert.deepEqual(
    recs.map((r) => r.ino),
    recs.map((_, i) => i + 1),
  );
  const dev = recs.find((r) => r.name === "dev/console")!;
  assert.equal(dev.mode, 0o020600);
  assert.equal(dev.rdevmajor, 5);
  assert.equal(dev.rdevminor, 1);
  const link = recs.find((r) => r.name === "bin/sh")!;
  assert.equal(link.mode, 0o120777);
  assert.equal(link.data.toString(), "busybox");
});

test("the header layout is newc: 110-byte ASCII header, 4-byte alignment, trailer", () => {
  const buf = writeCpio([{ type: "file", path: "a", mode: 0o644, data: Buffer.from("xyz") }]);
  assert.equal(buf.toString("ascii", 0, 6), "070701");
  // A single top-level file: header 110 + "a\0" = 112 (aligned), data 3 + 1 pad.
  assert.equal(buf.toString("ascii", 110, 112), "a\0");
  assert.equal(buf.toString("ascii", 112, 115), "xyz");
  assert.equal(buf[115], 0);
  assert.equal(buf.toString("ascii", 116, 122), "070701");
  assert.ok(buf.includes("TRAILER!!!\0"));
  assert.equal(buf.length % 4, 0);
  // Fields are 8 upper-case hex digits, as the kernel's gen_init_cpio writes them.
  assert.match(buf.toString("ascii", 6, 110), /^[0-9A-F]{104}$/);
});

test("GNU cpio -t lists exactly kiln's entries, -tv shows owner 0 and the modes", () => {
  const buf = writeCpio(sample(true));
  const listed = cpioTool(["-t", "--quiet"], buf).trim().split("\n");
  assert.deepEqual(listed, canonicalEntries(sample(true)).map((e) => e.path));
  const verbose = cpioTool(["-tv", "--quiet", "--numeric-uid-gid"], buf);
  assert.match(verbose, /^crw-------\s+1\s+0\s+0\s+5,\s+1 .*dev\/console$/m);
  assert.match(verbose, /^lrwxrwxrwx\s+1\s+0\s+0\s+7 .*bin\/sh -> busybox$/m);
  assert.match(verbose, /^drwxrwxrwt\s+2\s+0\s+0\s+0 .*tmp$/m);
  assert.match(verbose, /^-rwxr-xr-x\s+1\s+0\s+0\s+18 .*init$/m);
});

test("GNU cpio -i extracts byte-exact contents, modes, links and mtimes", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-cpio-"));
  try {
    const entries = sample(isRoot);
    cpioTool(["-i", "-d", "-m", "--quiet", "--no-absolute-filenames"], writeCpio(entries, { mtime: 1_600_000_000 }), dir);
    for (const e of entries) {
      const p = join(dir, e.path);
      const st = lstatSync(p);
      if (e.type !== "symlink") assert.equal(st.mtimeMs / 1000, 1_600_000_000, `${e.path} mtime`);
      switch (e.type) {
        case "file":
          assert.ok(readFileSync(p).equals(Buffer.from(e.data)), `${e.path} bytes`);
          assert.equal(st.mode & 0o7777, e.mode, `${e.path} mode`);
          break;
        case "dir":
          assert.ok(st.isDirectory());
          assert.equal(st.mode & 0o7777, e.mode, `${e.path} mode`);
          break;
        case "symlink":
          assert.equal(readlinkSync(p), e.target);
          break;
        case "char":
          assert.ok(st.isCharacterDevice());
          break;
        default:
          break;
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an archive GNU cpio writes reads back through readCpio with the same contents", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-cpio-"));
  try {
    writeFileSync(join(dir, "f"), "payload\n");
    const gnu = execFileSync("cpio", ["-o", "-H", "newc", "--quiet"], { input: "f\n", cwd: dir });
    const recs = readCpio(gnu);
    assert.equal(recs.length, 1);
    assert.equal(recs[0]!.name, "f");
    assert.equal(recs[0]!.data.toString(), "payload\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad entries are refused", () => {
  assert.throws(() => writeCpio([{ type: "dir", path: "../x", mode: 0o755 }]), /escapes/);
  assert.throws(
    () =>
      writeCpio([
        { type: "file", path: "a", mode: 0o644, data: Buffer.alloc(0) },
        { type: "file", path: "a", mode: 0o644, data: Buffer.alloc(1) },
      ]),
    /twice/,
  );
  assert.throws(() => writeCpio([{ type: "file", path: "a", mode: 0o100644, data: Buffer.alloc(0) }]), /permission bits/);
  assert.throws(
    () =>
      writeCpio([
        { type: "file", path: "a", mode: 0o644, data: Buffer.alloc(0) },
        { type: "file", path: "a/b", mode: 0o644, data: Buffer.alloc(0) },
      ]),
    /not a directory/,
  );
});

test("kiln's initramfs layout has /init, /dev/console and the mount points", () => {
  const entries = canonicalEntries(initramfsEntries({ init: Buffer.from("x"), busybox: Buffer.from("y"), execScript: "true\n" }));
  const by = new Map(entries.map((e) => [e.path, e]));
  assert.equal(by.get("init")?.type, "file");
  assert.deepEqual(by.get("dev/console"), { type: "char", path: "dev/console", mode: 0o600, major: 5, minor: 1 });
  for (const d of ["proc", "sys", "dev", "tmp"]) assert.equal(by.get(d)?.type, "dir");
  assert.equal(by.get("bin/busybox")?.type, "file");
  assert.deepEqual(by.get("bin/sh"), { type: "symlink", path: "bin/sh", target: "busybox" });
  assert.equal(by.get("kiln/exec.sh")?.type, "file");
  const plain = initramfsEntries({ init: Buffer.from("x") }).map((e) => e.path);
  assert.ok(!plain.includes("bin/sh"));
});
