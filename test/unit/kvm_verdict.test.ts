/**
 * Remembering that KVM guests stay silent on a host, and the accelerator decision around it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { decideAccel, hostStamp, kvmGuestSilent, readKvmVerdict, recordSilentKvm, KVM_FIRST_OUTPUT_SEC, type KvmProbeResult } from "../../src/boot/kvm.js";
import { ARCHES } from "../../src/tables/arches.js";

const x86 = ARCHES.x86_64!;
const usable = async (): Promise<KvmProbeResult> => ({ usable: true, reason: "KVM runs guests" });
const never = async (): Promise<KvmProbeResult> => {
  throw new Error("the probe must not run");
};

test("decision: explicit requests win, other arches use TCG, a silent verdict skips the probe", async () => {
  assert.deepEqual(await decideAccel({ guest: "x86_64", host: "x86_64", request: "tcg", probe: never }), { accel: "tcg", reason: "TCG requested" });
  assert.deepEqual(await decideAccel({ guest: "x86_64", host: "x86_64", request: "kvm", probe: never, verdict: { stamp: "s", guestsSilent: true, seen: "t" } }), { accel: "kvm", reason: "KVM requested" });
  assert.equal((await decideAccel({ guest: "aarch64", host: "x86_64", request: "auto", probe: never })).reason, "aarch64 guest on a x86_64 host");
  const silent = await decideAccel({ guest: "x86_64", host: "x86_64", request: "auto", probe: never, verdict: { stamp: "s", guestsSilent: true, seen: "2026-12-01T00:00:00.000Z" } });
  assert.equal(silent.accel, "tcg");
  assert.match(silent.reason, /guests printed nothing under KVM on this host \(seen 2026-12-01T00:00:00.000Z/);
  assert.deepEqual(await decideAccel({ guest: "x86_64", host: "x86_64", request: "auto", probe: usable }), { accel: "kvm", reason: "KVM runs guests" });
  const noKvm = await decideAccel({ guest: "x86_64", host: "x86_64", request: "auto", probe: async () => ({ usable: false, reason: "/dev/kvm does not exist" }) });
  assert.deepEqual(noKvm, { accel: "tcg", reason: "/dev/kvm does not exist" });
});

test("after a boot: only a silent automatic KVM boot counts against KVM", () => {
  assert.equal(kvmGuestSilent({ accel: "kvm", request: "auto", anyOutput: false, endKind: "silent" }), true);
  assert.equal(kvmGuestSilent({ accel: "kvm", request: "auto", anyOutput: false, endKind: "exited" }), true);
  assert.equal(kvmGuestSilent({ accel: "kvm", request: "auto", anyOutput: true, endKind: "silent" }), false);
  assert.equal(kvmGuestSilent({ accel: "kvm", request: "kvm", anyOutput: false, endKind: "silent" }), false);
  assert.equal(kvmGuestSilent({ accel: "tcg", request: "auto", anyOutput: false, endKind: "silent" }), false);
  assert.equal(kvmGuestSilent({ accel: "kvm", request: "auto", anyOutput: false, endKind: "stopped" }), false);
  assert.ok(KVM_FIRST_OUTPUT_SEC <= 3);
});

test("the verdict is kept per host boot and QEMU binary, and a torn file is ignored", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-kvm-"));
  try {
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const qemu = join(bin, x86.qemuBinary);
    writeFileSync(qemu, "#!/bin/sh\nexit 0\n");
    chmodSync(qemu, 0o755);
    const stamp = hostStamp(x86, { bootId: "boot-1", path: bin })!;
    assert.match(stamp, new RegExp(`^boot-1\\|${qemu}:\\d+:\\d+$`));
    assert.equal(hostStamp(x86, { bootId: "boot-1", path: join(dir, "nowhere") }), undefined);
    const cache = join(dir, "home", "boot");
    assert.equal(readKvmVerdict(cache, x86, stamp), undefined);
    const v = recordSilentKvm(cache, x86, stamp, new Date("2026-12-01T10:00:00Z"));
    assert.deepEqual(readKvmVerdict(cache, x86, stamp), v);
    // Another host boot, or another QEMU (a new size or mtime), asks KVM again.
    assert.equal(readKvmVerdict(cache, x86, hostStamp(x86, { bootId: "boot-2", path: bin })!), undefined);
    writeFileSync(qemu, "#!/bin/sh\n# upgraded\nexit 0\n");
    assert.notEqual(hostStamp(x86, { bootId: "boot-1", path: bin }), stamp);
    const file = join(cache, "kvm-guests-x86_64.json");
    assert.equal(JSON.parse(readFileSync(file, "utf8")).guestsSilent, true);
    writeFileSync(file, "{\"stamp\":");
    assert.equal(readKvmVerdict(cache, x86, stamp), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
