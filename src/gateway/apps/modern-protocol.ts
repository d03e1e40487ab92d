// What the MCP Proxy app's client needs of MCP 2026-07-28, the first "modern" revision
// (basic/versioning, "Terminology"): the per-request `_meta` envelope (basic/index, "_meta"), how
// an upstream's era is read from its answer to a modern probe (basic/versioning, "Backward
// Compatibility with Initialization-Based Versions"; basic/transports/streamable-http, "Backward
// Compatibility"), and what of a modern result the gateway keeps (basic/index, "resultType").
// Pure rules, no I/O; the requests themselves are mcp-proxy.ts's.
import { z } from "zod";
import { UpstreamError } from "./upstream-error.js";

export const MODERN_PROTOCOL_VERSION = "2026-07-28";

export const PROTOCOL_VERSION_META_KEY = "io.modelcontextprotocol/protocolVersion";
export const CLIENT_INFO_META_KEY = "io.modelcontextprotocol/clientInfo";
export const CLIENT_CAPABILITIES_META_KEY = "io.modelcontextprotocol/clientCapabilities";
export const LOG_LEVEL_META_KEY = "io.modelcontextprotocol/logLevel";

/** Error codes of the range MCP reserves for itself (basic/index, "Error Codes"). */
export const HEADER_MISMATCH = -32020;
export const MISSING_REQUIRED_CLIENT_CAPABILITY = -32021;
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;
const MODERN_ERRORS = new Set([HEADER_MISMATCH, MISSING_REQUIRED_CLIENT_CAPABILITY, UNSUPPORTED_PROTOCOL_VERSION]);

/** What the gateway learned of an upstream's lists: from `server/discover`, or everything when not asked. */
export interface Offers {
  tools: boolean;
  prompts: boolean;
  resources: boolean;
  logging?: boolean;
  completions?: boolean;
}

export const EVERYTHING: Offers = { tools: true, prompts: true, resources: true, logging: true, completions: true };

export type Era = { era: "legacy" } | { era: "modern"; offers: Offers };

/**
 * The `_meta` every modern request carries: the version, the gateway as the client, and the
 * capabilities it can serve for this request (what it relays to the agent). The agent's own
 * `_meta` keys (its progressToken) travel beside it, but never in place of the envelope.
 */
export function envelope(
  clientInfo: Record<string, unknown>,
  capabilities: Record<string, unknown>,
  logLevel?: string,
): Record<string, unknown> {
  return {
    [PROTOCOL_VERSION_META_KEY]: MODERN_PROTOCOL_VERSION,
    [CLIENT_INFO_META_KEY]: clientInfo,
    [CLIENT_CAPABILITIES_META_KEY]: capabilities,
    ...(logLevel ? { [LOG_LEVEL_META_KEY]: logLevel } : {}),
  };
}

const object = z.record(z.string(), z.unknown());
const discoverResult = z.object({ supportedVersions: z.array(z.string()), capabilities: object }).loose();

/** The era of an upstream that answered the `server/discover` probe with a result. */
export function eraOfDiscovery(result: Record<string, unknown>): Era {
  const parsed = discoverResult.safeParse(result);
  if (!parsed.success || !parsed.data.supportedVersions.includes(MODERN_PROTOCOL_VERSION)) return { era: "legacy" };
  const { capabilities } = parsed.data;
  return {
    era: "modern",
    offers: {
      tools: capabilities.tools !== undefined,
      prompts: capabilities.prompts !== undefined,
      resources: capabilities.resources !== undefined,
      logging: capabilities.logging !== undefined,
      completions: capabilities.completions !== undefined,
    },
  };
}

/**
 * The era of an upstream that refused the probe with this JSON-RPC error (in a 200, or in the
 * body of a 400, 404 or 405): a recognized modern error other than "unsupported version" means a
 * modern server; an unsupported-version error that does not list 2026-07-28, or any other error,
 * or none, means a legacy one, which speaks `initialize`.
 */
export function eraOfRefusal(error: { code: number; data?: unknown } | undefined): Era {
  if (!error || !MODERN_ERRORS.has(error.code)) return { era: "legacy" };
  if (error.code === UNSUPPORTED_PROTOCOL_VERSION && !supportsModern(error.data)) return { era: "legacy" };
  return { era: "modern", offers: EVERYTHING };
}

/** HTTP statuses whose answer to the probe tells the era (the rest are failures of their own). */
export const PROBE_REFUSALS = new Set([400, 404, 405]);

/** Whether an UnsupportedProtocolVersionError's data lists 2026-07-28 among the supported versions. */
export function supportsModern(data: unknown): boolean {
  const supported = (data as { supported?: unknown } | undefined)?.supported;
  return Array.isArray(supported) && supported.includes(MODERN_PROTOCOL_VERSION);
}

/**
 * The result a modern upstream completed with, as the gateway passes it on: `resultType`,
 * `ttlMs` and `cacheScope` are the upstream's envelope to its own client (the gateway), which
 * 2025-era agents do not know and which would be wrong for the gateway's own answer (that answer
 * is filtered per caller and merged across apps), so they stop here; everything else passes on.
 * A `resultType` other than `complete` (and `input_required`, which never gets here) is invalid.
 */
export function completedResult(app: string, method: string, result: Record<string, unknown>): Record<string, unknown> {
  const { resultType, ttlMs: _ttlMs, cacheScope: _cacheScope, ...rest } = result;
  if (resultType !== undefined && resultType !== "complete")
    throw new UpstreamError(app, `upstream answered ${method} with a result of unknown resultType`);
  return rest;
}
