/**
 * HTTP(S) downloads with progress, verified against a sha256 before anything uses them.
 * The file is written to a temporary name and renamed into place only after the digest matched;
 * on a mismatch the download is deleted and the error names the expected and actual digests.
 */
import { createWriteStream, rmSync, renameSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { request, readBody, redactUrl } from "./http.js";
import { SourceError } from "../errors.js";
import { tmpName } from "./fsx.js";
import type { Ui } from "../ui/log.js";
import { makeProgress } from "../ui/progress.js";
import { fmtBytes } from "../ui/log.js";

export interface DownloadResult {
  url: string;
  bytes: number;
}

/** Download url into dest, verifying sha256. Tries each URL in order on network errors. */
export async function downloadVerified(urls: readonly string[], sha256: string, dest: string, ui: Ui): Promise<DownloadResult> {
  const failures: string[] = [];
  for (const url of urls) {
    try {
      return await downloadOne(url, sha256, dest, ui);
    } catch (e) {
      if (e instanceof SourceError && /sha256 mismatch/.test(e.message)) throw e;
      failures.push(`${redactUrl(url)}: ${(e as Error).message}`);
    }
  }
  throw new SourceError(`could not download the source from any URL:\n  ${failures.join("\n  ")}`, { url: urls[0] && redactUrl(urls[0]) }, "check the URL and the network, or add mirrors = [...] to the pin");
}

async function downloadOne(url: string, sha256: string, dest: string, ui: Ui): Promise<DownloadResult> {
  mkdirSync(dirname(dest), { recursive: true });
  const res = await request({ method: "GET", url, redirects: 10, what: "the download server" });
  if (res.status !== 200) {
    res.discard();
    throw new Error(`HTTP ${res.status} ${res.statusMessage}`);
  }
  const total = Number(res.headers["content-length"] ?? 0);
  const tmp = tmpName(dest);
  const h = createHash("sha256");
  let got = 0;
  const prog = makeProgress(ui, "download", total, "bytes");
  const body = Readable.from(readBody(res));
  body.on("data", (d: Buffer) => {
    h.update(d);
    got += d.length;
    prog.update(got, fmtBytes(got));
  });
  try {
    await pipeline(body, createWriteStream(tmp));
  } catch (e) {
    rmSync(tmp, { force: true });
    prog.stop();
    throw new Error(`download interrupted after ${fmtBytes(got)}: ${(e as Error).message}`);
  }
  prog.stop(`${fmtBytes(got)} from ${redactUrl(url)}`);
  if (total && got !== total) {
    rmSync(tmp, { force: true });
    throw new Error(`truncated download: ${got} of ${total} bytes`);
  }
  const actual = h.digest("hex");
  if (actual !== sha256) {
    rmSync(tmp, { force: true });
    throw new SourceError(
      `sha256 mismatch for ${redactUrl(url)}: expected ${sha256}, got ${actual}; the download was deleted and nothing was extracted`,
      { url: redactUrl(url) },
      "if the upstream file really changed, verify it by other means and update sha256 in kiln.toml",
    );
  }
  renameSync(tmp, dest);
  return { url: redactUrl(url), bytes: got };
}
