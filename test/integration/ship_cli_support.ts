/**
 * Support for the ship CLI tests: a store entry laid out from the ship tests' small real
 * x86_64 kernel (the test store's example build, test/fixtures/ship/kernel.ts), a project file with
 * remotes, a loopback docker-registry, and hostile artifacts.
 */
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { spawn, spawnSync, execFileSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { shipVmlinux } from "../fixtures/ship/kernel.js";
import { tarHeader, tarPadding, TAR_END, type TarWriteEntry } from "../../src/ship/tar.js";

export const KV = "6.12.117";
export const NAME = "shipcli";
export const TIMESTAMP = 1_700_000_000;

export function release(digest = "0123456789ab"): string {
  return `${KV}-shipcli-${digest}`;
}

/**
 * `<home>/store/<release>/` shaped like kiln's build output, from the small kernel:
 * boot/{vmlinuz,System.map,config}-<release>, lib/modules/<release>/ (a small stand-in module
 * set), vmlinux and manifest.json. Returns the entry folder.
 */
export function layStoreEntry(home: string, rel: string, o: { target?: string; project?: string } = {}): string {
  const vmlinux = shipVmlinux();
  const build = dirname(vmlinux);
  const entry = join(home, "store", rel);
  const boot = join(entry, "boot");
  const mods = join(entry, "lib", "modules", rel);
  mkdirSync(boot, { recursive: true });
  mkdirSync(join(mods, "kernel", "drivers", "virtio"), { recursive: true });
  const image = existsSync(join(build, "arch", "x86", "boot", "bzImage")) ? join(build, "arch", "x86", "boot", "bzImage") : vmlinux;
  copyFileSync(image, join(boot, `vmlinuz-${rel}`));
  copyFileSync(join(build, "System.map"), join(boot, `System.map-${rel}`));
  copyFileSync(join(build, ".config"), join(boot, `config-${rel}`));
  copyFileSync(vmlinux, join(entry, "vmlinux"));
  writeFileSync(join(mods, "kernel", "drivers", "virtio", "virtio_demo.ko"), Buffer.alloc(4096, 7));
  writeFileSync(join(mods, "modules.dep"), "kernel/drivers/virtio/virtio_demo.ko:\n");
  const manifest = {
    schema: "kiln.manifest/v1",
    status: "ok",
    started_at: "2026-11-22T00:00:00.000Z",
    finished_at: "2026-11-22T00:01:00.000Z",
    kiln_version: "0.1.0",
    project: { name: o.project ?? NAME, dir: "/somewhere/else", kiln_toml_sha256: "0".repeat(64) },
    target: o.target ?? "base",
    arch: "x86_64",
    inputs: {
      source: { name: "linux", kind: "debian", tree: "f".repeat(40), timestamp: TIMESTAMP },
      series: [],
      config_method: "fragments",
      fragments: [],
      toolchain: "gcc",
      make_vars: {},
      label: "shipcli",
    },
    source_tree: "f".repeat(40),
    kernel_version: KV,
    uts_release: rel,
    identity: { digest: rel.split("-").at(-1)!, label: "shipcli", toolchain: [], make_flags: [] },
    reuse: { status: "built" },
    artifacts: {
      store_entry: entry,
      image: join(boot, `vmlinuz-${rel}`),
      system_map: join(boot, `System.map-${rel}`),
      config: join(boot, `config-${rel}`),
      vmlinux: join(entry, "vmlinux"),
      modules: mods,
    },
    build_dir: build,
    steps: {},
    reproduce: "kiln build base --arch x86_64 --locked",
  };
  writeFileSync(join(entry, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  return entry;
}

/** A project folder whose kiln.toml declares `remotes` and `[ship]` (TOML text). */
export function writeProject(dir: string, o: { remotes: Record<string, string>; ship: string; outputs?: string[]; name?: string }): string {
  mkdirSync(join(dir, "config"), { recursive: true });
  writeFileSync(join(dir, "config", "base.config"), "CONFIG_64BIT=y\n");
  const remotes = Object.entries(o.remotes)
    .map(([n, body]) => `[remote.${n}]\n${body}\n`)
    .join("\n");
  writeFileSync(
    join(dir, "kiln.toml"),
    [
      `name = "${o.name ?? NAME}"`,
      "",
      "[source.linux]",
      'debian = "linux-source-6.12"',
      "",
      "[target.base]",
      'source = "linux"',
      'arches = ["x86_64"]',
      `outputs = ${JSON.stringify(o.outputs ?? ["install", "artifact", "bundle"])}`,
      "",
      "[target.base.config]",
      'method = "fragments"',
      'base = "allnoconfig"',
      'layers = ["config"]',
      "",
      remotes,
      "[ship]",
      o.ship,
      "",
    ].join("\n"),
  );
  return dir;
}

export function toml(s: string): string {
  return JSON.stringify(s);
}

/** Every file under `dir` (relative), or [] when it does not exist. */
export function listAll(dir: string): string[] {
  return existsSync(dir) ? (readdirSync(dir, { recursive: true }) as string[]).map(String).sort() : [];
}

// ------------------------------------------------------------------ hostile artifacts

/** A tar header with a raw typeflag (for device nodes the writer refuses to make). */
function rawHeader(e: TarWriteEntry, typeflag: string): Buffer {
  const h = Buffer.from(tarHeader(e));
  h.write(typeflag, 156, "latin1");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  return h;
}

/**
 * A tar.zst with the boot files a kernel artifact has and one hostile entry:
 * "dotdot" (../x), "abslink" (symlink to /etc/passwd), "device" (a character device).
 */
export function hostileArtifact(path: string, rel: string, kind: "dotdot" | "abslink" | "device"): void {
  const parts: Buffer[] = [];
  const file = (p: string, data: Buffer) => {
    parts.push(tarHeader({ path: p, type: "file", mode: 0o644, mtime: TIMESTAMP, size: data.length }), data, tarPadding(data.length));
  };
  parts.push(tarHeader({ path: "boot", type: "dir", mode: 0o755, mtime: TIMESTAMP }));
  file(`boot/vmlinuz-${rel}`, Buffer.alloc(5000, 0x5a));
  file(`boot/System.map-${rel}`, Buffer.from("ffffffff81000000 T _text\n"));
  if (kind === "dotdot") file("../x", Buffer.from("escaped\n"));
  if (kind === "abslink") parts.push(tarHeader({ path: `boot/link-${rel}`, type: "symlink", mode: 0o777, mtime: TIMESTAMP, linkname: "/etc/passwd" }));
  if (kind === "device") parts.push(rawHeader({ path: "boot/console", type: "file", mode: 0o600, mtime: TIMESTAMP, size: 0 }, "3"));
  parts.push(TAR_END);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, execFileSync("zstd", ["-q", "-c"], { input: Buffer.concat(parts), maxBuffer: 1 << 26 }));
}

// ------------------------------------------------------------------ docker-registry

export const hasRegistry = spawnSync("docker-registry", ["--version"]).status === 0;
export const hasHtpasswd = spawnSync("which", ["htpasswd"]).status === 0;

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Registry {
  addr: string;
  proc: ChildProcess;
}

/** Debian's docker-registry on loopback, optionally behind htpasswd auth. */
export async function startRegistry(dir: string, htpasswd?: string): Promise<Registry> {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  mkdirSync(dir, { recursive: true });
  const cfg = [
    "version: 0.1",
    "log:",
    "  level: error",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${join(dir, "data")}`,
    "http:",
    `  addr: ${addr}`,
    "  secret: kiln-test-secret",
    ...(htpasswd ? ["auth:", "  htpasswd:", "    realm: kiln-test", `    path: ${htpasswd}`] : []),
  ].join("\n");
  writeFileSync(join(dir, "config.yml"), cfg + "\n");
  const proc = spawn("docker-registry", ["serve", join(dir, "config.yml")], { stdio: ["ignore", "ignore", "ignore"] });
  for (let i = 0; i < 600; i++) {
    const ok = await new Promise<boolean>((r) => {
      http.get(`http://${addr}/v2/`, (res) => (res.resume(), r(res.statusCode === 200 || res.statusCode === 401))).on("error", () => r(false));
    });
    if (ok) return { addr, proc };
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill();
  throw new Error(`docker-registry did not start on ${addr}`);
}

export function htpasswdFile(path: string, user: string, password: string): string {
  writeFileSync(path, execFileSync("htpasswd", ["-Bbn", user, password]));
  return path;
}

/** A loopback proxy in front of a registry that answers 500 to the n-th PUT. */
export async function failingProxy(upstream: string, failOnPut: number): Promise<{ addr: string; close(): Promise<void> }> {
  let puts = 0;
  const proxy = http.createServer((req, res) => {
    if (req.method === "PUT" && ++puts === failOnPut) {
      req.resume();
      res.writeHead(500, { "content-type": "text/plain" }).end("injected failure");
      return;
    }
    const up = http.request(`http://${upstream}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
      const h = { ...r.headers };
      if (h.location) h.location = h.location.replace(upstream, `127.0.0.1:${(proxy.address() as AddressInfo).port}`);
      res.writeHead(r.statusCode ?? 502, h);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  return { addr: `127.0.0.1:${(proxy.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => proxy.close(() => r())) };
}
