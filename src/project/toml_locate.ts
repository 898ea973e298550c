/**
 * Find the line of a key path in TOML text, for error messages. Pure.
 * Handles [table] and [[array]] headers, dotted keys and inline tables well enough to point
 * a person at the right line; falls back to the nearest enclosing table header.
 */
export function locateKey(text: string, path: readonly (string | number)[]): number | undefined {
  // indices (numbers, or numeric strings from zod paths) select the N-th [[array]] table
  const keys = path.map(String);
  const lines = text.split("\n");
  let table: string[] = [];
  const seen = new Map<string, number>();
  let best: { line: number; depth: number } | undefined;
  const unq = (k: string) => k.trim().replace(/^["']|["']$/g, "");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/#.*$/, "").trim();
    if (!raw) continue;
    const hdr = /^\[\[?([^\]]+)\]\]?$/.exec(raw);
    if (hdr) {
      table = hdr[1]!.split(".").map(unq);
      if (raw.startsWith("[[")) {
        const name = table.join(".");
        const n = seen.get(name) ?? 0;
        seen.set(name, n + 1);
        table = [...table, String(n)];
      }
      const depth = prefixDepth(table, keys);
      const whole = depth === table.length || (raw.startsWith("[[") && depth === keys.length && depth === table.length - 1);
      if (whole && (!best || depth > best.depth)) best = { line: i + 1, depth };
      continue;
    }
    const kv = /^([A-Za-z0-9_."' -]+?)\s*=/.exec(raw);
    if (!kv) continue;
    const full = [...table, ...kv[1]!.split(".").map(unq)];
    const depth = prefixDepth(full, keys);
    if (depth === full.length && (!best || depth > best.depth)) best = { line: i + 1, depth };
    // Inline table or array on this line: a deeper key named on it still lands here.
    if (depth === full.length && depth < keys.length) {
      const rest = keys.slice(depth);
      if (rest.every((k) => raw.includes(k)) && (!best || depth + rest.length > best.depth))
        best = { line: i + 1, depth: depth + rest.length };
    }
  }
  return best?.line;
}

function prefixDepth(candidate: readonly string[], keys: readonly string[]): number {
  let n = 0;
  while (n < candidate.length && n < keys.length && candidate[n] === keys[n]) n++;
  return n;
}
