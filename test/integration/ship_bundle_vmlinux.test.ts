/**
 * Packs a real x86_64 vmlinux (the test store's example build) and checks the flattened kernel
 * against `objcopy -O binary`, the kernel's own way of turning the ELF into a flat image by physical address.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { shipVmlinux } from "../fixtures/ship/kernel.js";
import { packBundle, inspectBundle, payloadFromVmlinux } from "../../src/ship/bundle.js";
import { packBundleFromBuild, inspectBundleFile } from "../../src/ship/bundle_file.js";
import { dirname } from "node:path";

test("x86_64 vmlinux flattens like objcopy -O binary and packs into a valid bundle", { timeout: 30 * 60_000 }, () => {
  const vmlinux = shipVmlinux();
  const elf = readFileSync(vmlinux);
  const p = payloadFromVmlinux(elf, vmlinux);
  assert.equal(p.loadAddr, 0x1000000n);
  assert.equal(p.entryAddr, elf.readBigUInt64LE(24));
  const tmp = join(tmpdir(), `kiln-ship-objcopy-${process.pid}.bin`);
  try {
    execFileSync("objcopy", ["-O", "binary", vmlinux, tmp]);
    const ref = readFileSync(tmp);
    assert.equal(p.data.length, ref.length, "flattened size");
    assert.ok(p.data.equals(ref), "flattened bytes equal objcopy's");
  } finally {
    rmSync(tmp, { force: true });
  }
  const b = packBundle({ arch: "x86_64", variant: "base", kernel: p });
  const r = inspectBundle(b);
  assert.ok(r.ok, r.ok ? "" : r.problems.map((x) => x.message).join("\n"));
  assert.equal(r.bundle.sections[0]!.size % 65536n, 0n);
  assert.ok(b.subarray(65536, 65536 + p.data.length).equals(p.data));
  // deterministic
  assert.ok(packBundle({ arch: "x86_64", variant: "base", kernel: payloadFromVmlinux(elf) }).equals(b));

  // from the build dir, through a file, and inspected like `kiln bundle inspect`
  const out = join(tmpdir(), `kiln-ship-${process.pid}.kernel`);
  try {
    const w = packBundleFromBuild({ arch: "x86_64", variant: "base", buildDir: dirname(vmlinux), out });
    assert.ok(readFileSync(out).equals(b));
    assert.equal(w.size, b.length);
    const r2 = inspectBundleFile(out);
    assert.ok(r2.ok);
    assert.match(r2.text, /SUBK v1, x86_64 base, abi 1, page 65536\n  load  0x1000000\n  entry 0x1000000/);
    console.log(r2.text);
  } finally {
    rmSync(out, { force: true });
  }
});
