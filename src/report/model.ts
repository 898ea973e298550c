/**
 * Everything `kiln report` renders, gathered into one value (src/report/gather.ts reads the
 * files; src/report/render.ts turns this into the page without touching anything else).
 */
import type { Manifest } from "../core/manifest.js";
import type { DiffGroup } from "../config/diff.js";
import type { BumpView } from "./bump.js";
import type { CompileTimeline } from "./timeline.js";

export type BootRecord = NonNullable<Manifest["boot"]>[number];

export interface SizeItem {
  name: string;
  bytes: number;
}

export interface Sizes {
  /** The boot image (bzImage / Image) the store entry holds. */
  image?: SizeItem;
  vmlinux?: SizeItem & { sections: SizeItem[] };
  systemMap?: SizeItem;
  /** Loadable modules (path under lib/modules/<release>/), largest first. */
  modules: SizeItem[];
  /** Why a size is missing (e.g. "vmlinux is not in the store entry"). */
  notes: string[];
}

export interface ConfigDiffView {
  from: string;
  to: string;
  counts: { removed: number; changed: number; added: number };
  groups: DiffGroup[];
  /** Where the menus came from, or why there are none. */
  menus: string;
}

export interface ReportData {
  /** When the page was made (ISO), and by which kiln. */
  generatedAt: string;
  kilnVersion: string;
  /** The build the page is about. */
  build: Manifest;
  /** Where its manifest was read. */
  manifestFile: string;
  /** When the build was a reuse: the manifest of the build that compiled it (store entry), if kept. */
  compiledBy?: Manifest;
  /** The compile timeline, or why there is none. */
  compile: { timeline: CompileTimeline; log: string } | { none: string };
  sizes: Sizes;
  /** Boot records per arch: this build's and its sibling cells' (same target, other arches). */
  boots: { arch: string; release: string; records: BootRecord[] }[];
  configDiff?: ConfigDiffView;
  bump?: BumpView;
}

/** The page's sections, in order; the test and the page's own check read these ids. */
export const SECTIONS = ["summary", "steps", "compile", "warnings", "audit", "diff", "sizes", "boot", "bump"] as const;
export type SectionId = (typeof SECTIONS)[number];
