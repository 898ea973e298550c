/** The kernel version from the top Makefile's VERSION/PATCHLEVEL/SUBLEVEL/EXTRAVERSION. Pure. */
export function kernelVersionFromMakefile(text: string): string | undefined {
  const get = (k: string) => new RegExp(`^${k}[ \\t]*=[ \\t]*(.*)$`, "m").exec(text)?.[1]?.trim();
  const v = get("VERSION");
  const p = get("PATCHLEVEL");
  const s = get("SUBLEVEL");
  if (!v || !p) return undefined;
  const extra = get("EXTRAVERSION") ?? "";
  return `${v}.${p}${s !== undefined && s !== "" ? `.${s}` : ""}${extra}`;
}
