import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { locateKey } from "../../src/project/toml_locate.js";
import { parseProject } from "../../src/project/load.js";
import { ProjectError } from "../../src/errors.js";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const EXAMPLE = readFileSync(join(REPO, "examples/microvm/kiln.toml"), "utf8");

test("array-of-tables indices select the N-th [[table]], numeric strings (zod paths) too", () => {
  const t = `name = "x"\n[[invariant]]\nsymbol = "A"\n\n[[invariant]]\nsymbol = "B"\nbad = 1\n[target.base]\nlayers = ["a", "b"]\n`;
  assert.equal(locateKey(t, ["invariant", "1", "bad"]), 7);
  assert.equal(locateKey(t, ["invariant", 0, "symbol"]), 3);
  assert.equal(locateKey(t, ["invariant", 1]), 5);
  assert.equal(locateKey(t, ["invariant"]), 2);
  assert.equal(locateKey(t, ["target", "base", "layers", 1]), 9);
});

test("an error in the third [[invariant]] points at that invariant, not the first", () => {
  const text = `${EXAMPLE}\n[[invariant]]\nforbidden = ["A"]\n\n[[invariant]]\nforbidden = ["B"]\n\n[[invariant]]\nforbidden = ["C"]\nrequired = { X = "maybe" }\n`;
  let e: unknown;
  try {
    parseProject(text, "/p/kiln.toml");
  } catch (x) {
    e = x;
  }
  assert.ok(e instanceof ProjectError, String(e));
  const before = (EXAMPLE.match(/^\[\[invariant\]\]/gm) ?? []).length;
  const line = text.split("\n").findIndex((l) => l.startsWith('required = { X = "maybe"')) + 1;
  assert.match(e.message, new RegExp(`/p/kiln.toml:${line}: invariant\\.${before + 2}\\.required\\.X: expected y, m, n`));
});
