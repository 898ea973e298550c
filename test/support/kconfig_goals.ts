/**
 * The kconfig goals both kconfig test files read: the example's minimal virtio guest as a
 * fragment for allnoconfig, written once into the test cache.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TEST_CACHE } from "./trees.js";

/** The minimal virtio guest of the example (allnoconfig + these). */
export const VIRTIO_GUEST = [
  "CONFIG_64BIT=y",
  "CONFIG_PRINTK=y",
  "CONFIG_TTY=y",
  "CONFIG_SERIAL_8250=y",
  "CONFIG_SERIAL_8250_CONSOLE=y",
  "CONFIG_BLK_DEV_INITRD=y",
  "CONFIG_BINFMT_ELF=y",
  "CONFIG_DEVTMPFS=y",
  "CONFIG_PROC_FS=y",
  "CONFIG_SYSFS=y",
  "CONFIG_PCI=y",
  "CONFIG_VIRTIO_PCI=y",
  "CONFIG_VIRTIO_BLK=y",
  "CONFIG_VIRTIO_NET=y",
  "CONFIG_HYPERVISOR_GUEST=y",
  "CONFIG_PARAVIRT=y",
].join("\n") + "\n";

/** The fragment file for `make allnoconfig KCONFIG_ALLCONFIG=...`. */
export function virtioFragment(): string {
  const dir = join(TEST_CACHE, "kconfig");
  mkdirSync(dir, { recursive: true });
  const p = join(dir, "virtio-guest.config");
  if (!existsSync(p) || readFileSync(p, "utf8") !== VIRTIO_GUEST) writeFileSync(p, VIRTIO_GUEST);
  return p;
}
