/**
 * kiln-test-lane: side (no shared kiln home, no kernel build, no race against the clock; test/run.sh
 * runs it beside the main lane)
 * The explain property in CI (see kconfig_property.ts): Debian's 6.12 tree, randconfig seeds 1-4
 * per arch, fragments drawn from them, merged with the tree's merge_config.sh. Every dropped
 * value is predicted, explained without "as requested", flipping what the explanation names
 * keeps the request in kiln's evaluation, and every flip a fragment can express keeps it in
 * kconfig itself (batched: one extra merge per seed). The arches run two at a time.
 * Runs kconfig only. test/full/kconfig_property_wide.test.ts runs seeds 5-24 (npm run test:full);
 * bench/explain_property.ts runs the same with 1,000+ requests per arch.
 */
import { propertyTests } from "./kconfig_property.js";

propertyTests([1, 2, 3, 4]);
