// Protocol revisions this gateway speaks over Streamable HTTP (introduced in 2025-03-26): the
// session-based ones (2025-03-26 to 2025-11-25) and the per-request ones (2026-07-28 on).
import { VERSION } from "../../core/version.js";

export const LATEST_PROTOCOL_VERSION = "2025-11-25";
export const SUPPORTED_PROTOCOL_VERSIONS: readonly string[] = [LATEST_PROTOCOL_VERSION, "2025-06-18", "2025-03-26"];

/**
 * MCP 2025-06-18+ (Streamable HTTP, "Protocol Version Header"): without an MCP-Protocol-Version
 * header the server SHOULD assume 2025-03-26.
 */
export const VERSION_WHEN_HEADER_ABSENT = "2025-03-26";

export const SERVER_INFO = { name: "ai-identity-gateway", title: "AI Identity Gateway", version: VERSION };

/**
 * MCP lifecycle, "Version Negotiation": answer with the client's version when supported,
 * otherwise with the latest one we support (the client then decides whether to go on).
 */
export function negotiateProtocolVersion(requested: unknown): string {
  return typeof requested === "string" && SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
    ? requested
    : LATEST_PROTOCOL_VERSION;
}

export function isSupportedProtocolVersion(version: string): boolean {
  return SUPPORTED_PROTOCOL_VERSIONS.includes(version);
}

/** JSON-RPC batches exist in 2025-03-26 only; 2025-06-18 removed them. */
export function allowsBatches(version: string): boolean {
  return version === "2025-03-26";
}

/**
 * MCP 2026-07-28 (basic/versioning): revisions served per request, without a session; each request
 * names its revision in `_meta["io.modelcontextprotocol/protocolVersion"]` (docs/mcp-endpoint.md).
 */
export const MODERN_PROTOCOL_VERSIONS: readonly string[] = ["2026-07-28"];

/** Every revision this endpoint speaks, newest first, as `server/discover` and -32022 list them. */
export const ALL_PROTOCOL_VERSIONS: readonly string[] = [...MODERN_PROTOCOL_VERSIONS, ...SUPPORTED_PROTOCOL_VERSIONS];

export function isModernProtocolVersion(version: string): boolean {
  return MODERN_PROTOCOL_VERSIONS.includes(version);
}
