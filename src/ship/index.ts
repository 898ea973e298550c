/**
 * Shipping kernels: the API the CLI wires into `kiln bundle inspect`, `kiln keygen`,
 * `kiln publish`, `kiln fetch`, and the build's reuse check.
 */
export {
  packBundle,
  inspectBundle,
  renderInspection,
  payloadFromVmlinux,
  payloadFromArm64Image,
  payloadFromRiscvImage,
  bundleFileName,
  AARCH64_DEFAULT_BASE,
  BUNDLE_ARCHES,
  BUNDLE_VARIANTS,
  type BundleArch,
  type BundleVariant,
  type BundleDescription,
  type BundleInspection,
  type BundleProblem,
  type KernelPayload,
  type PackInput,
} from "./bundle.js";
export { packBundleFromBuild, inspectBundleFile, payloadFromBuild, bundleInputPath, bundleInputInEntry } from "./bundle_file.js";
export { inspectDeb, checkKernelImageDeb, assertKernelDeb, extractDebs, type DebInfo } from "./deb.js";
export {
  writeArtifact,
  artifactFileName,
  formatSha256Sums,
  parseSha256Sums,
  parseSha256File,
  sha256File,
  writeFileAtomic,
  ZSTD_LEVEL,
  type ArtifactResult,
} from "./artifact.js";
export { safeUnpack, DEFAULT_LIMITS, type UnpackLimits, type UnpackResult } from "./unpack.js";
export {
  keygen,
  generateKeyPair,
  parsePublicKey,
  parseSecretKey,
  formatPublicKey,
  formatSecretKey,
  signMinisign,
  verifyMinisign,
  trustedComment,
  keyIdHex,
  loadTrustedKeys,
  type MinisignKeyPair,
  type MinisignPublicKey,
  type VerifiedSignature,
} from "./minisign.js";
export { openTransport, DirTransport, HttpTransport, type Transport, type Progress } from "./transport.js";
export { publishToMirror, parseRef, resolveRef, releaseTag, parseIndex, INDEX_PATH, type IndexEntry, type MirrorIndex, type PublishInput, type PublishResult } from "./mirror.js";
export { fetchKernel, fetchVerifiedArtifact, lookupRelease, markerPath, type FetchOptions, type FetchResult, type InstalledMarker, type VerifiedArtifact } from "./fetch.js";
export {
  RegistryClient,
  pushKernelOci,
  pullKernelOci,
  registryCredentials,
  parseRegistryRef,
  KERNEL_ARTIFACT_TYPE,
  LAYER_TYPES,
  type OciPushInput,
  type OciPushResult,
  type OciPullResult,
  type RegistryCredentials,
} from "./oci.js";
export { compareArtifacts, compareTrees, renderDifferences, type Difference } from "./compare.js";
export { firstDifferingSection, readElfSections } from "./elf.js";
