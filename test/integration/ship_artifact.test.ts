/**
 * kiln-test-lane: side (no shared kiln home, no kernel build, no race against the clock; test/run.sh
 * runs it beside the main lane)
 * Artifact writing and safe unpacking against the real zstd, tar and sha256sum tools,
 * including hostile archives.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, readFileSync, readdirSync, rmSync, utimesSync, existsSync, readlinkSync, statSync, chmodSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { writeArtifact, formatSha256Sums, sha256File } from "../../src/ship/artifact.js";
import { safeUnpack } from "../../src/ship/unpack.js";
import { packTar, tarHeader, tarPadding, TAR_END } from "../../src/ship/tar.js";
import { SourceError } from "../../src/errors.js";
import { fakeInstallTree, RELEASE } from "../fixtures/ship/support.js";

function tmp(tag: string): string {
  return mkdtempSync(join(tmpdir(), `kiln-ship-${tag}-`));
}

test("artifact is deterministic, readable by GNU tar and checkable by sha256sum", async () => {
  const base = tmp("art");
  try {
    const tree = fakeInstallTree(join(base, "entry"));
    const ts = 1_700_000_000;
    const a = await writeArtifact({ entryDir: tree, name: "demo", release: RELEASE, arch: "x86_64", timestamp: ts, outDir: join(base, "out1") });
    // touch everything: clamping makes the newer mtimes irrelevant
    utimesSync(join(tree, "boot", `vmlinuz-${RELEASE}`), ts + 5000, ts + 5000);
    const b = await writeArtifact({ entryDir: tree, name: "demo", release: RELEASE, arch: "x86_64", timestamp: ts, outDir: join(base, "out2") });
    assert.equal(a.sha256, b.sha256);
    assert.ok(readFileSync(a.path).equals(readFileSync(b.path)));
    assert.match(a.path, /demo-kernel-6\.12\.0-demo-0123456789ab-x86_64\.tar\.zst$/);
    assert.equal(readFileSync(a.sha256Path, "utf8"), `${a.sha256}\n`);
    assert.equal(a.sha256, execFileSync("sha256sum", [a.path], { encoding: "utf8" }).split(" ")[0]);
    assert.deepEqual(readdirSync(join(base, "out1")).sort(), [`demo-kernel-${RELEASE}-x86_64.tar.zst`, `demo-kernel-${RELEASE}-x86_64.tar.zst.sha256`]);
    const listing = execFileSync("tar", ["--zstd", "-tvf", a.path, "--full-time"], { encoding: "utf8" }).trim().split("\n");
    const names = listing.map((l) => l.split(/\s+/).at(-1)!);
    assert.deepEqual(names, [...names].sort(), "entries sorted");
    assert.ok(listing.every((l) => l.includes("root/root")), listing.join("\n"));
    assert.ok(!names.some((n) => n.endsWith("/build")), "build symlink excluded");
    assert.ok(!names.includes("manifest.json") && !names.includes("vmlinux"), "only boot/ and lib/modules/ are shipped");
    assert.ok(listing.every((l) => l.includes("2023-11-14 22:13:20")), "mtimes clamped");
    assert.ok(listing.some((l) => l.startsWith("-rw-r--r--") && l.endsWith("modules.dep")), "fixed modes");
    assert.ok(names.some((n) => n.endsWith("virtio_blk_with_a_long_name.ko")), "long name kept");
    writeFileSync(join(base, "out1", "SHA256SUMS"), formatSha256Sums([{ name: `demo-kernel-${RELEASE}-x86_64.tar.zst`, sha256: a.sha256 }]));
    execFileSync("sha256sum", ["-c", "--strict", "SHA256SUMS"], { cwd: join(base, "out1") });
    // safe unpack gives the tree back
    const dest = join(base, "unpacked");
    const r = await safeUnpack({ archive: a.path, dest });
    const files = execFileSync("find", [join(tree, "boot"), join(tree, "lib"), "-type", "f", "-printf", "%s\\n"], { encoding: "utf8" }).trim().split("\n");
    assert.equal(r.bytes, files.reduce((n, s) => n + Number(s), 0));
    assert.ok(readFileSync(join(dest, "boot", `vmlinuz-${RELEASE}`)).equals(Buffer.alloc(300_000, 0x5a)));
    assert.equal(statSync(join(dest, "boot", `vmlinuz-${RELEASE}`)).mtimeMs, ts * 1000);
    assert.ok(!existsSync(join(dest, "lib", "modules", RELEASE, "build")));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test("safe unpack reads archives made by GNU tar (long names, hardlinks)", async () => {
  const base = tmp("gnu");
  try {
    const src = join(base, "src");
    mkdirSync(join(src, "x".repeat(120)), { recursive: true });
    writeFileSync(join(src, "x".repeat(120), "f"), "data");
    execFileSync("ln", [join(src, "x".repeat(120), "f"), join(src, "hard")]);
    symlinkSync("hard", join(src, "soft"));
    for (const fmt of ["gnu", "pax"]) {
      const archive = join(base, `a-${fmt}.tar.zst`);
      execFileSync("tar", ["--zstd", `--format=${fmt}`, "-cf", archive, "-C", src, "."]);
      const dest = join(base, `out-${fmt}`);
      await safeUnpack({ archive, dest });
      assert.equal(readFileSync(join(dest, "x".repeat(120), "f"), "utf8"), "data");
      assert.equal(readFileSync(join(dest, "hard"), "utf8"), "data");
      assert.equal(readlinkSync(join(dest, "soft")), "hard");
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

/** A raw header with any typeflag/name/link, for archives kiln would never write. */
function rawEntry(path: string, typeflag: string, linkname = "", data = Buffer.alloc(0)): Buffer {
  const h = tarHeader({ path, type: "file", mode: 0o644, mtime: 1, size: data.length });
  h.write(typeflag, 156, 1, "ascii");
  h.fill(0, 157, 257);
  h.write(linkname, 157, 100, "utf8");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return Buffer.concat([h, data, tarPadding(data.length)]);
}

const ok = (path: string) => rawEntry(path, "0", "", Buffer.from("fine"));

test("safe unpack refuses hostile archives and leaves nothing behind", async () => {
  const base = tmp("hostile");
  try {
    const cases: [string, Buffer, RegExp, object?][] = [
      ["dotdot", Buffer.concat([ok("a"), ok("../x"), TAR_END]), /"\.\.\/x".*"\.\." component/],
      ["inner dotdot", Buffer.concat([ok("a/../../x"), TAR_END]), /"\.\." component/],
      ["absolute path", Buffer.concat([ok("/tmp/kiln-evil"), TAR_END]), /absolute path/],
      ["absolute symlink", Buffer.concat([ok("a"), rawEntry("lib/evil", "2", "/etc/passwd"), TAR_END]), /absolute symlink target \/etc\/passwd/],
      ["escaping symlink", Buffer.concat([rawEntry("lib/evil", "2", "../../etc"), TAR_END]), /points outside/],
      ["write through symlink", Buffer.concat([rawEntry("d", "2", "."), ok("d/x"), TAR_END]), /folder d is a symlink/],
      ["char device", Buffer.concat([ok("a"), rawEntry("dev/null", "3"), TAR_END]), /device node/],
      ["block device", Buffer.concat([rawEntry("sda", "4"), TAR_END]), /device node/],
      ["fifo", Buffer.concat([rawEntry("p", "6"), TAR_END]), /fifo/],
      ["hardlink outside", Buffer.concat([rawEntry("h", "1", "/etc/shadow"), TAR_END]), /hardlink target: absolute/],
      ["hardlink to missing", Buffer.concat([rawEntry("h", "1", "nothing"), TAR_END]), /not a file extracted before/],
      ["duplicate", Buffer.concat([ok("a"), ok("a"), TAR_END]), /appears twice/],
      ["too big", Buffer.concat([rawEntry("big", "0", "", Buffer.alloc(5000)), TAR_END]), /over the per-file limit of 4096/, { maxEntrySize: 4096 }],
      ["too many", Buffer.concat([ok("a"), ok("b"), ok("c"), TAR_END]), /more than 2 entries/, { maxEntries: 2 }],
      ["truncated", packTar([{ entry: { path: "f", type: "file", mode: 0o644, mtime: 1 }, data: Buffer.alloc(4000) }]).subarray(0, 2048), /truncated inside entry f/],
    ];
    for (const [name, tar, want, limits] of cases) {
      for (const compress of [false, true]) {
        const archive = join(base, `${name}.tar${compress ? ".zst" : ""}`);
        writeFileSync(compress ? archive.slice(0, -4) : archive, tar);
        if (compress) execFileSync("zstd", ["-q", "-f", "--rm", archive.slice(0, -4), "-o", archive]);
        const dest = join(base, "dest", name);
        await assert.rejects(safeUnpack({ archive, dest, limits }), (e: unknown) => {
          assert.ok(e instanceof SourceError, `${name}: ${String(e)}`);
          assert.match(e.message, want, name);
          return true;
        });
        assert.ok(!existsSync(dest), `${name}: destination left behind`);
        assert.deepEqual(existsSync(join(base, "dest")) ? readdirSync(join(base, "dest")) : [], [], `${name}: temp left behind`);
      }
    }
    assert.ok(!existsSync("/tmp/kiln-evil"));
    // a truncated zstd stream
    const good = join(base, "good.tar");
    writeFileSync(good, packTar([{ entry: { path: "f", type: "file", mode: 0o644, mtime: 1 }, data: Buffer.alloc(200_000, 3) }]));
    execFileSync("zstd", ["-q", "-f", good, "-o", `${good}.zst`]);
    const z = readFileSync(`${good}.zst`);
    writeFileSync(`${good}.cut.zst`, z.subarray(0, z.length - 10));
    await assert.rejects(safeUnpack({ archive: `${good}.cut.zst`, dest: join(base, "cut") }), /zstd could not decompress|truncated/);
    assert.ok(!existsSync(join(base, "cut")));
    // a decompression bomb is cut off by the total limit
    const bomb = join(base, "bomb.tar");
    writeFileSync(bomb, packTar([{ entry: { path: "f", type: "file", mode: 0o644, mtime: 1 }, data: Buffer.alloc(3_000_000) }]));
    execFileSync("zstd", ["-q", "-f", bomb, "-o", `${bomb}.zst`]);
    await assert.rejects(safeUnpack({ archive: `${bomb}.zst`, dest: join(base, "bomb"), limits: { maxTotalSize: 1_000_000 } }), /total size/);
    assert.equal(await sha256File(good), execFileSync("sha256sum", [good], { encoding: "utf8" }).split(" ")[0]);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
