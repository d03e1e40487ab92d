// Protocol revisions this gateway speaks over Streamable HTTP (introduced in 2025-03-26).
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
