import pkg from "../../package.json" with { type: "json" };

/** The deployed version, reported by both tiers' /status. */
export const VERSION: string = pkg.version;
