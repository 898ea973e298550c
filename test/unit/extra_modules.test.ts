/**
 * `kiln run --module`: the .modinfo reader and the release check, on object files the host's gcc
 * makes with a .modinfo section the way modpost's generated <module>.mod.c lays it out (NUL-
 * separated key=value strings), and on files that are no module.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkExtraModule, modinfo, moduleName } from "../../src/boot/extra_modules.js";
import { ProjectError } from "../../src/errors.js";

const RELEASE = "6.12.118-modular-6ccd99230066";
let dir: string;
let ko: Buffer;

/** An object file whose .modinfo holds these strings. */
function objectWith(name: string, fields: string[]): Buffer {
  const c = join(dir, `${name}.c`);
  writeFileSync(c, fields.map((f, i) => `const char kiln_modinfo_${i}[] __attribute__((section(".modinfo"), used, aligned(1))) = ${JSON.stringify(f)};\n`).join(""));
  const o = join(dir, `${name}.ko`);
  execFileSync("gcc", ["-c", "-O2", "-o", o, c]);
  return readFileSync(o);
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "kiln-extra-modules-"));
  ko = objectWith("kiln_hello", [`vermagic=${RELEASE} SMP preempt mod_unload `, "license=GPL", "name=kiln_hello", "alias=kiln-hello", "alias=kiln-greeter"]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("modinfo reads every key=value of the .modinfo section; a repeated key keeps every value", () => {
  const m = modinfo(ko)!;
  assert.deepEqual(m.get("vermagic"), [`${RELEASE} SMP preempt mod_unload `]);
  assert.deepEqual(m.get("name"), ["kiln_hello"]);
  assert.deepEqual([...m.get("alias")!].sort(), ["kiln-greeter", "kiln-hello"]); // in section order, which gcc chooses
});

test("modinfo: no .modinfo section, or not an ELF file at all", () => {
  assert.equal(modinfo(readFileSync(process.execPath).subarray(0, 1 << 20)), undefined);
  assert.equal(modinfo(Buffer.from("depmod output, not a module\n")), undefined);
});

test("checkExtraModule: a module for the release passes; another release, no vermagic, not a .ko are refused by name", () => {
  assert.equal(checkExtraModule("/m/kiln_hello.ko", ko, RELEASE).name, "kiln_hello.ko");
  const refused = (file: string, data: Buffer, re: RegExp) =>
    assert.throws(() => checkExtraModule(file, data, RELEASE), (e: unknown) => e instanceof ProjectError && re.test(e.message) && /kiln dev layer/.test(e.hint ?? ""));
  const other = objectWith("other", ["vermagic=6.12.118-microvm-c512c2e5fe0a SMP preempt mod_unload ", "name=other"]);
  refused("/m/other.ko", other, /^--module \/m\/other\.ko: built for 6\.12\.118-microvm-c512c2e5fe0a, but the guest runs 6\.12\.118-modular-6ccd99230066/);
  refused("/m/novm.ko", objectWith("novm", ["license=GPL"]), /its \.modinfo has no vermagic/);
  refused("/m/modules.dep", ko, /not a kernel module file \(a \.ko\)/);
  refused("/m/sh.ko", readFileSync("/bin/sh"), /not a kernel module \(no \.modinfo section/);
});

test("moduleName: the name modprobe loads a file by, compressed or not, with - read as _", () => {
  assert.equal(moduleName("kernel/fs/isofs/isofs.ko"), "isofs");
  assert.equal(moduleName("kernel/lib/crc-itu-t.ko.zst"), "crc_itu_t");
  assert.equal(moduleName("extra/kiln-hello.ko.xz"), "kiln_hello");
  assert.equal(checkExtraModule("/m/renamed.ko", ko, RELEASE).module, "kiln_hello", "the .modinfo name= wins over the file name");
});
