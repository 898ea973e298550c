/**
 * The explain property over 20 more randconfig seeds per arch (5-24) than the default suite's
 * (test/integration/kconfig_property.test.ts, seeds 1-4): same checks, same floors per seed.
 * Runs kconfig only; about 10 minutes on two cores.
 */
import { propertyTests } from "../integration/kconfig_property.js";

propertyTests(Array.from({ length: 20 }, (_, i) => 5 + i));
