/**
 * Configure results by content: KILN_HOME/configs/<key>.json, where the key hashes everything
 * configure reads (the patched tree, the method and every fragment's bytes, the blanked make
 * flags, the toolchain, the host facts kconfig reads). Any project folder with the same inputs
 * finds the same record, so the identity is known, and the store hit, before a tree is checked
 * out (docs/adr/0047). Records are written atomically and checked on read: a record that does
 * not parse, names another key, or whose digest does not follow from its own config, toolchain,
 * flags and tree, is a miss (and is replaced by the next configure).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { computeDigest } from "../core/identity.js";
import { writeFileAtomic } from "../effects/fsx.js";

export const CONFIG_RECORD_SCHEMA = "kiln.configure-record/v1";

/** What a configure produced, as the flow needs it to compute and check the identity. */
export interface ConfigRecordBody<Cfg = unknown, Finding = unknown> {
  /** The patched source tree the config was made from. */
  tree: string;
  kernelVersion: string;
  cfg: Cfg;
  findings: Finding[];
  digest: string;
  fitted: string;
  baked: { release: string; configText: string };
}

export interface ConfigRecord<Cfg = unknown, Finding = unknown> extends ConfigRecordBody<Cfg, Finding> {
  schema: typeof CONFIG_RECORD_SCHEMA;
  key: string;
}

/** What the digest is computed from besides the record's own config and tree. */
export interface DigestFacts {
  toolchain: string;
  makeFlags: readonly string[];
}

export function configRecordFile(home: string, key: string): string {
  if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`configure record key "${key}" is not a sha256 hex digest`);
  return join(home, "configs", `${key}.json`);
}

export function writeConfigRecord<C, F>(home: string, key: string, body: ConfigRecordBody<C, F>): string {
  const file = configRecordFile(home, key);
  const rec: ConfigRecord<C, F> = { schema: CONFIG_RECORD_SCHEMA, key, ...body };
  writeFileAtomic(file, JSON.stringify(rec) + "\n");
  return file;
}

export type ConfigRecordRead<C, F> = { hit: ConfigRecord<C, F> } | { miss: "absent" } | { miss: "invalid"; why: string; file: string };

/**
 * The record for this key, checked: its shape, its key, and its digest recomputed from its own
 * config and tree with the caller's toolchain and flags. Pure apart from reading one file.
 */
export function readConfigRecord<C = unknown, F = unknown>(home: string, key: string, facts: DigestFacts): ConfigRecordRead<C, F> {
  const file = configRecordFile(home, key);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return { miss: "absent" };
  }
  const why = checkConfigRecord(text, key, facts);
  if (typeof why === "string") return { miss: "invalid", why, file };
  return { hit: why as ConfigRecord<C, F> };
}

/** The parsed record, or what is wrong with it. Pure. */
export function checkConfigRecord(text: string, key: string, facts: DigestFacts): ConfigRecord | string {
  let r: Partial<ConfigRecord>;
  try {
    r = JSON.parse(text) as Partial<ConfigRecord>;
  } catch (e) {
    return `not JSON (${(e as Error).message})`;
  }
  if (typeof r !== "object" || r === null) return "not a JSON object";
  if (r.schema !== CONFIG_RECORD_SCHEMA) return `schema is ${JSON.stringify(r.schema)}, expected ${CONFIG_RECORD_SCHEMA}`;
  if (r.key !== key) return `it records key ${String(r.key)}`;
  if (typeof r.tree !== "string" || !/^[0-9a-f]{40,64}$/.test(r.tree)) return "no source tree id";
  if (typeof r.kernelVersion !== "string" || !r.kernelVersion) return "no kernel version";
  if (typeof r.digest !== "string" || typeof r.fitted !== "string") return "no digest or label";
  if (!r.baked || typeof r.baked.release !== "string" || typeof r.baked.configText !== "string") return "no baked config";
  if (!Array.isArray(r.findings) || typeof r.cfg !== "object" || r.cfg === null) return "no configure result";
  const digest = computeDigest({ config: r.baked.configText, toolchain: facts.toolchain, makeFlags: [...facts.makeFlags], sourceTree: r.tree });
  if (digest !== r.digest) return `its digest ${r.digest} does not follow from its config and tree (${digest})`;
  if (!r.baked.release.endsWith(r.digest)) return `its release ${r.baked.release} does not end in its digest`;
  return r as ConfigRecord;
}
