/**
 * Parsing of dpkg-deb's --contents and --info output (the packages themselves are made and
 * checked on a real build in test/integration/ship_cli_outputs.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDebContents, parseDebFields } from "../../src/ship/deb.js";

test("dpkg-deb output parsing", () => {
  const c = parseDebContents(
    "drwxr-xr-x root/root         0 2026-11-22 04:53 ./\n" +
      "-rw-r--r-- root/root    621525 2026-11-22 04:53 ./boot/System.map-6.12.117\n" +
      "lrwxrwxrwx root/root         0 2026-11-22 04:53 ./lib/modules/x/build -> /usr/src/x\n",
  );
  assert.deepEqual(c.map((e) => [e.path, e.type, e.size]), [["", "dir", 0], ["boot/System.map-6.12.117", "file", 621525], ["lib/modules/x/build", "symlink", 0]]);
  assert.deepEqual(parseDebFields("Package: linux-image-x\nDescription: a\n more\n"), { Package: "linux-image-x", Description: "a\nmore" });
});
