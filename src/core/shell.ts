/** Shell quoting for command lines shown to people (logs, manifests' reproduce lines). Pure. */
export function quoteArg(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

export function quoteArgv(argv: readonly string[]): string {
  return argv.map(quoteArg).join(" ");
}
