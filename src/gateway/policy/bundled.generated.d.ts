// The shape of bundled.generated.js, which scripts/policy-bundle.mjs writes before every
// wrangler bundle (it is git-ignored: which policies exist is a build-time fact). This
// declaration is what type-checking sees, with or without a generated file present.
import type { BundledPolicy } from "./registry.js";

export declare const bundledPolicies: readonly BundledPolicy[];
