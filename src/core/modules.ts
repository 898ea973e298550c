/**
 * The record of a build's loadable modules (the manifest's "modules"): each installed .ko under
 * lib/modules/<release>/ with its stripped size, their count and total. Pure.
 */
export interface ModuleFile {
  path: string;
  bytes: number;
}

/** The manifest's record of the modules: count, total bytes and each file. Pure. */
export function moduleSummary(files: readonly ModuleFile[]): { count: number; bytes: number; files: ModuleFile[] } {
  return { count: files.length, bytes: files.reduce((a, f) => a + f.bytes, 0), files: files.map((f) => ({ path: f.path, bytes: f.bytes })) };
}
