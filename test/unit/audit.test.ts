import { test } from "node:test";
import assert from "node:assert/strict";
import { auditFindings, fatalFindings, formatFinding } from "../../src/core/audit.js";
import { parseFragment, mergeRequests, parseDotConfig, droppedValues } from "../../src/core/fragment.js";

test("findings: mismatch with why, unknown, redefined (not in an override layer), malformed; opt-outs are not fatal", () => {
  const common = parseFragment("CONFIG_UBSAN_BOUNDS=y\nCONFIG_NOT_A_SYMBOL=y\nCONFIG_HZ_100=y\nbogus\n", "config/common/a.config", "config/common");
  const debug = parseFragment("# kiln-allow: known\nCONFIG_KASAN=y\n# CONFIG_HZ_100 is not set\n", "config/debug/b.config", "config/debug");
  const { merged, redefinitions } = mergeRequests([common.requests, debug.requests]);
  const dropped = droppedValues(merged, parseDotConfig("# CONFIG_UBSAN is not set\n"));
  const f = auditFindings({
    dropped,
    redefinitions: redefinitions.map((r) => ({ ...r, override: false })),
    issues: [...common.issues, ...debug.issues],
    facts: { known: (s) => s !== "NOT_A_SYMBOL", why: (s) => `CONFIG_${s}=n because reasons` },
  });
  assert.deepEqual(f.map((x) => [x.kind, x.symbol ?? "", x.file, x.line]), [
    ["malformed", "", "config/common/a.config", 4],
    ["mismatch", "UBSAN_BOUNDS", "config/common/a.config", 1],
    ["unknown", "NOT_A_SYMBOL", "config/common/a.config", 2],
    ["mismatch", "KASAN", "config/debug/b.config", 2],
    ["redefined", "HZ_100", "config/debug/b.config", 3],
  ]);
  assert.equal(fatalFindings(f).length, 4, "the opted-out KASAN line is shown but not fatal");
  assert.match(formatFinding(f[1]!), /^config\/common\/a\.config:1: mismatch CONFIG_UBSAN_BOUNDS requested y, got n \[layer config\/common\]: CONFIG_UBSAN_BOUNDS=n because reasons$/);
  assert.match(formatFinding(f[4]!), /redefines CONFIG_HZ_100=y from config\/common\/a\.config:3 \(layer config\/common\)/);
  assert.match(formatFinding(f[3]!), /\(allowed: known\)$/);
  const withOverride = auditFindings({ dropped: [], redefinitions: redefinitions.map((r) => ({ ...r, override: true })), issues: [] });
  assert.deepEqual(withOverride, []);
});
