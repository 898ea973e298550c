/**
 * The kiln.toml schema. Validation errors are turned into file:line:key messages by load.ts.
 *
 * A project declares source pins, a patch series, and targets. See docs/project-file.md.
 */
import { z } from "zod";
import { ARCHES } from "../tables/arches.js";
import { TOOLCHAINS } from "../tables/toolchains.js";
import { parseDistccHost } from "../distcc/config.js";
import { IMAGE_LAYOUTS } from "../tables/image_boot.js";

const sha256 = z
  .string()
  .regex(/^[0-9a-f]{64}$/, "expected a sha256: 64 lower-case hex characters");

const httpUrl = z
  .string()
  .regex(/^https?:\/\/\S+$/, "expected an http:// or https:// URL");

/** Pin kinds are told apart by their key (url, debian, path, git); each is validated strictly. */
export const UrlPinSchema = z.strictObject({
  url: httpUrl,
  sha256,
  mirrors: z.array(httpUrl).default([]),
  /** Build timestamp (seconds since the epoch); default: the tarball's top directory mtime. */
  timestamp: z.number().int().nonnegative().optional(),
});
export const DebianPinSchema = z.strictObject({
  debian: z
    .string()
    .regex(/^linux-source-[0-9]+\.[0-9]+$/, "expected a Debian package name like linux-source-6.12"),
  /** Exact package version; default: the archive's current candidate (recorded in kiln.lock). */
  version: z.string().min(1).optional(),
  timestamp: z.number().int().nonnegative().optional(),
});
export const FilePinSchema = z.strictObject({
  path: z.string().min(1),
  sha256: sha256.optional(),
  timestamp: z.number().int().nonnegative().optional(),
});
export const GitPinSchema = z.strictObject({
  git: z.string().min(1),
  ref: z.string().min(1),
});

export type UrlPin = z.infer<typeof UrlPinSchema>;
export type DebianPin = z.infer<typeof DebianPinSchema>;
export type FilePin = z.infer<typeof FilePinSchema>;
export type GitPin = z.infer<typeof GitPinSchema>;
export type Pin =
  | ({ kind: "url" } & UrlPin)
  | ({ kind: "debian" } & DebianPin)
  | ({ kind: "file" } & FilePin)
  | ({ kind: "git" } & GitPin);

export const PIN_KINDS = { url: UrlPinSchema, debian: DebianPinSchema, path: FilePinSchema, git: GitPinSchema } as const;

export const SeriesSchema = z.strictObject({
  /** A folder of patches applied in name order, or holding a quilt `series` file. */
  dir: z.string().min(1).optional(),
  /** A quilt-style series file; patch names are relative to its folder. */
  file: z.string().min(1).optional(),
  /** Subject used for the label when the series is a mailed one (cover letter subject). */
  subject: z.string().optional(),
  /** A mailed series as one mbox (what `b4 am -o` writes), applied with `git am` semantics. */
  mbox: z.string().min(1).optional(),
  /** A mailed series fetched with b4 by its cover letter's (or first patch's) message-id. */
  b4: z.string().regex(/^<?[^\s<>/]+@[^\s<>/]+>?$/, "expected a message-id such as 20240101120000.1234-1-dev@example.org").optional(),
  /** The lore (public-inbox) base URL b4 asks, e.g. https://lore.kernel.org/all; default $KILN_LORE_URL. */
  lore: httpUrl.optional(),
}).superRefine((s, ctx) => {
  const given = (["dir", "file", "mbox", "b4"] as const).filter((k) => s[k] !== undefined);
  if (given.length > 1) ctx.addIssue({ code: "custom", path: [given[1]!], message: `give one of dir, file, mbox or b4, not ${given.join(" and ")}` });
  if (s.lore !== undefined && s.b4 === undefined) ctx.addIssue({ code: "custom", path: ["lore"], message: 'lore is the base URL for b4 = "<message-id>"; it does nothing without b4' });
});

const CONFIG_BASES = ["allnoconfig", "alldefconfig"] as const;

export const ConfigSchema = z
  .strictObject({
    method: z.enum(["preset", "make", "fragments"]),
    /** preset: a file inside the project's presets folder. */
    preset: z.string().min(1).optional(),
    /** make: in-tree goals in order, e.g. ["defconfig", "kvm_guest.config"]. */
    goals: z.array(z.string().regex(/^[A-Za-z0-9_.-]+$/, "expected a make goal such as defconfig")).optional(),
    /** fragments: the base config. */
    base: z.enum(CONFIG_BASES).default("allnoconfig"),
    /**
     * Ordered fragment folders (later wins). "{arch}" is replaced by the target arch. A layer
     * declared { path, override = true } may change values set by earlier layers silently.
     */
    layers: z.array(z.union([z.string().min(1), z.strictObject({ path: z.string().min(1), override: z.boolean().default(false), optional: z.boolean().default(false) })])).default([]),
    /** Strict: a redefinition outside an override layer is an error (exit 2). */
    strict: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    if (c.method === "preset" && !c.preset)
      ctx.addIssue({ code: "custom", path: ["preset"], message: 'method "preset" needs preset = "<file in presets/>"' });
    if (c.method === "make" && (!c.goals || c.goals.length === 0))
      ctx.addIssue({ code: "custom", path: ["goals"], message: 'method "make" needs goals = ["defconfig", ...]' });
    if (c.method === "fragments" && c.layers.length === 0)
      ctx.addIssue({ code: "custom", path: ["layers"], message: 'method "fragments" needs at least one layer folder' });
  });

/** Make variables kiln owns; a target may not set them (like TuxMake's refusals). */
export const RESERVED_MAKE_VARS = [
  "ARCH",
  "CROSS_COMPILE",
  "CC",
  "LD",
  "HOSTCC",
  "LLVM",
  "O",
  "INSTALL_MOD_PATH",
  "INSTALL_PATH",
  "KBUILD_BUILD_TIMESTAMP",
  "KBUILD_BUILD_USER",
  "KBUILD_BUILD_HOST",
  "KBUILD_BUILD_VERSION",
  "LOCALVERSION",
] as const;

export const OUTPUTS = ["install", "artifact", "bundle", "deb", "rpm", "devel"] as const;

export const TargetSchema = z.strictObject({
  source: z.string().min(1),
  arches: z
    .array(z.string().refine((a) => a in ARCHES, { message: `expected one of ${Object.keys(ARCHES).join(", ")}` }))
    .min(1),
  toolchain: z
    .string()
    .refine((t) => t in TOOLCHAINS, { message: `expected one of ${Object.keys(TOOLCHAINS).join(", ")}` })
    .default("gcc"),
  config: ConfigSchema,
  /** Patch series for this target; default: the project's [series]. */
  series: SeriesSchema.optional(),
  /** Readable label baked into the release; default inferred (docs/adr/0003-identity.md). */
  label: z.string().optional(),
  make_vars: z
    .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected a make variable name"), z.string())
    .default({})
    .superRefine((vars, ctx) => {
      for (const k of Object.keys(vars))
        if ((RESERVED_MAKE_VARS as readonly string[]).includes(k))
          ctx.addIssue({ code: "custom", path: [k], message: `${k} is set by kiln and cannot be overridden here` });
    }),
  outputs: z.array(z.enum(OUTPUTS)).default(["install"]),
  /** Extra make goals; default: the image, and modules when CONFIG_MODULES=y. */
  goals: z.array(z.string().regex(/^[A-Za-z0-9_./-]+$/)).default([]),
  /**
   * Whether a command given no target names takes this target (`kiln build`, `kiln check
   * configured`, ...). false: it is built only when named (`kiln build modular`). See docs/adr/0075.
   */
  default: z.boolean().default(true),
});

const SymbolName = z.string().regex(/^(CONFIG_)?[A-Za-z0-9_]+$/, "expected a Kconfig symbol such as VIRTIO_BLK");

/** A config invariant: required symbols with exact values and forbidden symbols, optionally scoped. */
export const InvariantSchema = z.strictObject({
  arches: z.array(z.string()).optional(),
  /** Variants are target names (base, debug, ...). */
  variants: z.array(z.string()).optional(),
  not_variants: z.array(z.string()).optional(),
  required: z.record(SymbolName, z.string().regex(/^(y|m|n|-?[0-9]+|0x[0-9a-fA-F]+|"(?:[^"\\]|\\.)*")$/, "expected y, m, n, a number or a quoted string")).default({}),
  forbidden: z.array(SymbolName).default([]),
});
export type InvariantDecl = z.infer<typeof InvariantSchema>;

/** A remote: a plain mirror (a directory or an HTTP(S) server accepting PUT) or an OCI registry. */
export const RemoteSchema = z
  .strictObject({
    /** http(s):// URL of a mirror, or a local directory path. */
    url: z.string().min(1).optional(),
    /** OCI registry reference host[:port]/repository. */
    oci: z.string().regex(/^[A-Za-z0-9.-]+(:[0-9]+)?\/[a-z0-9._\/-]+$/, "expected host[:port]/repository").optional(),
    /** Plain http for a loopback/test registry. */
    insecure: z.boolean().default(false),
  })
  .refine((r) => (r.url ? 1 : 0) + (r.oci ? 1 : 0) === 1, { message: 'give exactly one of url = "…" (mirror) or oci = "host/repo" (registry)' });

export const ShipSchema = z.strictObject({
  /** Remotes `kiln publish` sends to by default. */
  publish: z.array(z.string()).default([]),
  /** Remotes `kiln build` asks for the identity before compiling (peer reuse, docs/adr/0038). */
  reuse: z.array(z.string()).default([]),
  /** Public keys (minisign .pub files, or base64 keys) whose signatures a consumer trusts. */
  trusted_keys: z.array(z.string()).default([]),
  /** The secret key that signs releases (default: $KILN_SIGNING_KEY). Never a key's content. */
  signing_key: z.string().optional(),
  /** Name in artifact file names: <name>-kernel-<release>-<arch>.tar.zst (default: the project name). */
  artifact_name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/).optional(),
  /** Release revision: tags are v<version>, or v<version>-r<N> for a re-release without a pin bump. */
  revision: z.number().int().nonnegative().default(0),
  /** Days a published mirror index stays valid; consumers refuse it after that (freeze protection). */
  index_valid_days: z.number().int().positive().max(3650).default(90),
});
export type RemoteDecl = z.infer<typeof RemoteSchema>;
export type ShipDecl = z.infer<typeof ShipSchema>;

/** How kiln compiles: distcc hosts and a shared ccache (docs/distcc.md). The environment overrides both. */
export const BuildSchema = z.strictObject({
  /** distcc hosts "host:port/jobs" (KILN_DISTCC_HOSTS or DISTCC_HOSTS win). */
  distcc: z
    .array(
      z.string().superRefine((s, ctx) => {
        const h = parseDistccHost(s);
        if ("error" in h) ctx.addIssue({ code: "custom", message: h.error });
      }),
    )
    .optional(),
  /** ccache remote storage: redis://host:port or http(s)://host/path, no credentials (KILN_CCACHE_REMOTE wins). */
  ccache_remote: z
    .string()
    .regex(/^(redis|https?):\/\/\S+$/, "expected a redis://host:port or http(s)://host/path URL")
    .refine((u) => !/^[a-z]+:\/\/[^@/]*@/.test(u), { message: "the URL carries credentials (user:password@): put it in KILN_CCACHE_REMOTE instead, kiln.toml is committed" })
    .optional(),
});
export type BuildDecl = z.infer<typeof BuildSchema>;

/** The build farm (docs/farm.md): the Redis its queue lives in and the remote workers publish to. */
export const FarmSchema = z.strictObject({
  /** redis://host:port, no credentials (KILN_FARM_REDIS and --farm win). */
  redis: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, "expected a redis://host:port URL")
    .refine((u) => !/^[a-z]+:\/\/[^@/]*@/.test(u), { message: "the URL carries credentials (user:password@): put it in KILN_FARM_REDIS instead, kiln.toml is committed" })
    .optional(),
  /** The [remote.<name>] workers publish to and the submitter takes the result from (default: the first of [ship].publish). */
  remote: z.string().regex(/^[A-Za-z0-9_-]+$/).optional(),
});
export type FarmDecl = z.infer<typeof FarmSchema>;
/** A bootable disk image made from a target's kernel (docs/images.md, docs/adr/0080). */
export const ImageSchema = z.strictObject({
  layout: z.enum(IMAGE_LAYOUTS).default("gpt-ab"),
  /** The target whose kernel boots; default: the project's only target. */
  target: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "expected a target name").optional(),
  /** The arches to make the image for; default: the target's arches that images support. */
  arches: z.array(z.string().refine((a) => a in ARCHES, { message: `expected one of ${Object.keys(ARCHES).join(", ")}` })).min(1).optional(),
  /** "kiln" (kiln's own initramfs, its init built from the tree's nolibc) or a cpio file of yours. */
  initramfs: z.string().min(1).default("kiln"),
  /** A folder or a tarball laid out at the root of System A and B. */
  rootfs: z.string().min(1).optional(),
  /** A folder whose files go into the Data partition. */
  data: z.string().min(1).optional(),
  /** Extra kernel command line words for both slots. */
  cmdline: z.string().regex(/^[^\n\r'"]*$/, "one line, without quotes").default(""),
  esp_mib: z.number().int().min(8).max(4096).default(32),
  system_mib: z.number().int().min(8).max(65536).default(64),
  data_mib: z.number().int().min(4).max(1048576).default(16),
  /** rpi-ab: a folder of the Pi's boot files (start4.elf, fixup4.dat, ...) you supply; kiln ships none. */
  firmware: z.string().min(1).optional(),
  /** rpi-ab: the DTBs to lay out, relative to the build's dtbs_install folder (default: every .dtb). */
  dtbs: z.array(z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\.dtb$/, "expected a path such as broadcom/bcm2711-rpi-4-b.dtb")).min(1).optional(),
  /** rpi-ab: the board's DTB config.txt names (default broadcom/bcm2711-rpi-4-b.dtb when built). */
  board_dtb: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\.dtb$/, "expected a path such as broadcom/bcm2711-rpi-4-b.dtb").optional(),
  /** rpi-ab: the size of Boot A and Boot B (FAT32 needs at least 33 MiB). */
  boot_mib: z.number().int().min(33).max(4096).default(64),
}).superRefine((d, ctx) => {
  const rpiOnly = ["firmware", "dtbs", "board_dtb"] as const;
  if (d.layout !== "rpi-ab") for (const k of rpiOnly) if (d[k] !== undefined) ctx.addIssue({ code: "custom", path: [k], message: `${k} is for layout = "rpi-ab"; a ${d.layout} image does not take it` });
  if (d.layout === "rpi-ab" && d.rootfs !== undefined) ctx.addIssue({ code: "custom", path: ["rootfs"], message: 'an rpi-ab image has no System partitions for a rootfs: put it in the initramfs, or use layout = "gpt-ab"' });
});
export type ImageDecl = z.infer<typeof ImageSchema>;

export const ProjectSchema = z.strictObject({
  /** Folders outside the project that kiln.toml may name (layers, series, presets); see docs/project-file.md. */
  outside_paths: z.array(z.string()).default([]),
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "expected a lower-case name: letters, digits, . _ -"),
  /** Folder that holds presets for the preset method (default "presets"). */
  presets_dir: z.string().default("presets"),
  source: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), z.record(z.string(), z.unknown())),
  series: SeriesSchema.optional(),
  target: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "expected a lower-case target name"), TargetSchema),
  /** Config invariants checked after configure (the "configured" gate). */
  invariant: z.array(InvariantSchema).default([]),
  remote: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), RemoteSchema).default({}),
  ship: ShipSchema.default({ publish: [], reuse: [], trusted_keys: [], revision: 0, index_valid_days: 90 }),
  build: BuildSchema.optional(),
  farm: FarmSchema.optional(),
  /** Disk images ([image.<name>]). */
  image: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "expected a lower-case image name: letters, digits, . _ -"), ImageSchema).default({}),
});

export type SeriesDecl = z.infer<typeof SeriesSchema>;
export type ConfigDecl = z.infer<typeof ConfigSchema>;
export type TargetDecl = z.infer<typeof TargetSchema>;
export type ProjectDecl = z.infer<typeof ProjectSchema>;
