/**
 * Fetch benchmark: kiln's fetch (resolve, verify signature and sha256, download, safe
 * unpack, place) against `curl` + `sha256sum -c` + `tar --zstd -x` on the same artifact,
 * served by the same loopback HTTP server (a separate node process).
 *
 *   node dist/bench/fetch.js [--runs N] [--vmlinux PATH] [--modules N]
 *
 * The example artifact: the given vmlinux as the image (default: the ship tests' small
 * x86_64 build) plus a synthetic lib/modules tree of N files, mostly compressible.
 * Prints medians and ratios kiln / baseline (goal <= 1.1): of the medians, the median of
 * per-pair ratios (robust on a shared machine), and of the minimums.
 */
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync, existsSync, copyFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { writeArtifact } from "../src/ship/artifact.js";
import { generateKeyPair } from "../src/ship/minisign.js";
import { publishToMirror } from "../src/ship/mirror.js";
import { fetchKernel } from "../src/ship/fetch.js";
import { DirTransport, HttpTransport } from "../src/ship/transport.js";

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const runs = Number(opt("runs", "5"));
const work = opt("work", "/var/tmp/kiln-ship-work/bench");
const vmlinux = opt("vmlinux", "/var/tmp/kiln-ship-work/x86/vmlinux");
const nModules = Number(opt("modules", "2000"));
const release = "6.12.0-bench-0123456789ab";

function makeTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "boot"), { recursive: true });
  if (existsSync(vmlinux)) copyFileSync(vmlinux, join(dir, "boot", `vmlinuz-${release}`));
  else writeFileSync(join(dir, "boot", `vmlinuz-${release}`), Buffer.alloc(12 << 20, 0x90));
  writeFileSync(join(dir, "boot", `System.map-${release}`), Array.from({ length: 60000 }, (_, i) => `ffffffff8${i.toString(16).padStart(7, "0")} T sym_${i}\n`).join(""));
  writeFileSync(join(dir, "boot", `config-${release}`), Array.from({ length: 8000 }, (_, i) => `CONFIG_SYM_${i}=y\n`).join(""));
  let seed = 1;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < nModules; i++) {
    const d = join(dir, "lib", "modules", release, "kernel", "drivers", `sub${i % 40}`);
    mkdirSync(d, { recursive: true });
    const size = 2000 + (rnd() % 60000);
    const b = Buffer.alloc(size);
    // about 3:1 under zstd, like kernel modules: random words between runs of structure
    for (let k = 0; k + 4 <= size; k += 4) b.writeUInt32LE(k % 32 < 12 ? rnd() : (k >> 4) & 0xff, k);
    writeFileSync(join(d, `module_${i}.ko`), b);
  }
  writeFileSync(join(dir, "lib", "modules", release, "modules.dep"), "");
}

const SERVER = `
const http=require("http"),fs=require("fs"),path=require("path");
const root=process.argv[1];
http.createServer((q,s)=>{const p=path.join(root,decodeURIComponent(new URL(q.url,"http://x").pathname));
 if(!p.startsWith(root)||!fs.existsSync(p)||!fs.statSync(p).isFile()){s.writeHead(404).end();return;}
 s.writeHead(200,{"content-length":fs.statSync(p).size});fs.createReadStream(p).pipe(s);
}).listen(0,"127.0.0.1",function(){console.log(this.address().port)});`;

async function main() {
  mkdirSync(work, { recursive: true });
  const tree = join(work, "entry");
  makeTree(tree);
  const art = await writeArtifact({ entryDir: tree, name: "bench", release, arch: "x86_64", timestamp: 1_700_000_000, outDir: join(work, "out") });
  const key = generateKeyPair();
  const mirror = join(work, "mirror");
  rmSync(mirror, { recursive: true, force: true });
  await publishToMirror({ transport: new DirTransport(mirror), name: "bench", release, kernelVersion: "6.12.0", arch: "x86_64", artifactPath: art.path, key });
  const server = spawn(process.execPath, ["-e", SERVER, mirror], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((res) => server.stdout.once("data", (d: Buffer) => res(Number(d.toString().trim()))));
  const url = `http://127.0.0.1:${port}`;
  const rel = `bench/${release}`;
  const artName = art.path.split("/").at(-1)!;
  const kilnTimes: number[] = [];
  const baseTimes: number[] = [];
  try {
    for (let i = 0; i < runs + 1; i++) {
      const k = join(work, "kiln-run");
      rmSync(k, { recursive: true, force: true });
      const t0 = process.hrtime.bigint();
      await fetchKernel({ ref: `bench@${release}`, arch: "x86_64", transport: new HttpTransport(url), bootDir: join(k, "boot"), root: join(k, "root"), cacheDir: join(k, "cache"), trustedKeys: [key] });
      const t1 = process.hrtime.bigint();
      const b = join(work, "base-run");
      rmSync(b, { recursive: true, force: true });
      mkdirSync(join(b, "root"), { recursive: true });
      const t2 = process.hrtime.bigint();
      execFileSync("curl", ["-sSf", "-o", join(b, artName), `${url}/${rel}/${artName}`, "-o", join(b, "SHA256SUMS"), `${url}/${rel}/SHA256SUMS`]);
      execFileSync("sha256sum", ["-c", "--quiet", "SHA256SUMS"], { cwd: b });
      execFileSync("tar", ["--zstd", "-xf", join(b, artName), "-C", join(b, "root")]);
      const t3 = process.hrtime.bigint();
      if (i > 0) {
        // the first round warms the page cache and is not counted
        kilnTimes.push(Number(t1 - t0) / 1e6);
        baseTimes.push(Number(t3 - t2) / 1e6);
      }
    }
  } finally {
    server.kill();
    rmSync(join(work, "kiln-run"), { recursive: true, force: true });
    rmSync(join(work, "base-run"), { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const km = median(kilnTimes);
  const bm = median(baseTimes);
  // each kiln run is paired with the baseline run right after it, so both see the same machine load
  const pairRatios = kilnTimes.map((k, i) => k / baseTimes[i]!);
  const result = {
    artifact: artName,
    artifact_bytes: statSync(art.path).size,
    entries: art.entries,
    runs,
    kiln_ms: kilnTimes.map((x) => Math.round(x)),
    baseline_ms: baseTimes.map((x) => Math.round(x)),
    kiln_median_ms: Math.round(km),
    baseline_median_ms: Math.round(bm),
    ratio_of_medians: Math.round((km / bm) * 1000) / 1000,
    median_pair_ratio: Math.round(median(pairRatios) * 1000) / 1000,
    ratio_of_minimums: Math.round((Math.min(...kilnTimes) / Math.min(...baseTimes)) * 1000) / 1000,
  };
  console.log(JSON.stringify(result, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
