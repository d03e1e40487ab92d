// Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, the registration
// the MCP 2025-11-25 authorization spec prefers): a client_id that is an https URL names a JSON
// document describing the client. It is fetched here, checked, and cached in Redis.
//
// SSRF: the URL is the caller's choice, so only public https URLs are fetched: no IP literals in
// private or reserved ranges, no IPv6 literals, no single-label or special-use names; loopback
// only for the exact origins in clientIdMetadataDocuments.allowedLoopbackOrigins. On
// Cloudflare, a Worker's fetch leaves through Cloudflare's network and cannot reach the
// deployment's private network anyway. Under self-hosted workerd, fetch reaches whatever the host
// reaches, and Web-standard fetch gives no hook to check the address a name resolves to, so a
// public name that resolves to a private address (DNS rebinding) is not caught here: give such a
// host an egress firewall or proxy.
import { z } from "zod";
import { log } from "../../core/log.js";
import { readAtMost } from "../../core/read-at-most.js";
import { GRANT_TYPES } from "../config-schema.js";
import type { ProviderContext } from "../provider-context.js";
import { clientMetadataSchema, machineGrantProblem, metadataError, registeredScopes } from "./client-metadata.js";
import type { Client } from "./client.js";
import { isLoopbackHost } from "./redirect-uri.js";

type Settings = ProviderContext["config"]["provider"]["clientIdMetadataDocuments"];

/** Far longer than any sensible client_id; keeps cache keys and logs bounded. */
const MAX_CLIENT_ID_LENGTH = 2048;

/** IPv4 ranges that are not the public Internet (RFC 6890 special-purpose registry). */
const NON_PUBLIC_IPV4: [string, number][] = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.88.99.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
];

/** Names that resolve locally, never to a client's public site (RFC 6761 §6.3, RFC 6762, RFC 8375). */
const LOCAL_SUFFIXES = [".localhost", ".local", ".internal", ".home.arpa"];

function ipv4ToInt(address: string): number {
  return address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

function isNonPublicIpv4(address: string): boolean {
  const ip = ipv4ToInt(address);
  return NON_PUBLIC_IPV4.some(
    ([base, bits]) => Math.floor(ip / 2 ** (32 - bits)) === Math.floor(ipv4ToInt(base) / 2 ** (32 - bits)),
  );
}

function hostProblem(hostname: string): string | null {
  if (hostname.startsWith("[")) return "must not be an IPv6 address literal";
  if (/^\d+\.\d+\.\d+\.\d+$/.test(hostname))
    return isNonPublicIpv4(hostname) ? "is a private or reserved address" : null;
  const name = hostname.replace(/\.$/, "");
  if (!name.includes(".")) return "must be a fully qualified domain name";
  if (name === "localhost" || LOCAL_SUFFIXES.some((suffix) => name.endsWith(suffix))) return "is a local name";
  return null;
}

export function isMetadataDocumentClientId(clientId: string): boolean {
  return /^https?:\/\//.test(clientId);
}

/** Why `clientId` is not a client identifier URL to fetch, or null when it is. */
export function clientIdUrlProblem(clientId: string, allowedLoopbackOrigins: readonly string[]): string | null {
  if (clientId.length > MAX_CLIENT_ID_LENGTH) return `is longer than ${MAX_CLIENT_ID_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(clientId);
  } catch {
    return "is not a URL";
  }
  // CIMD draft §3 (Client Identifier): https, a path, no dot segments, no fragment, no userinfo.
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must use https";
  if (clientId.includes("#")) return "must not contain a fragment";
  if (url.username || url.password || /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(clientId))
    return "must not contain a username or password";
  const rawPath = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^?#]*)/i.exec(clientId)?.[1] ?? "";
  if (rawPath.split("/").some((segment) => /^(\.|%2e){1,2}$/i.test(segment)))
    return "must not contain . or .. path segments";
  if (url.pathname === "/") return "must contain a path";
  // One spelling per client: the document's client_id must equal this string exactly, and the
  // cache is keyed by it, so a URL the parser would rewrite (case, escapes, tabs) is refused.
  if (url.href !== clientId) return `must be written in canonical form (${url.href})`;
  // Loopback only where the operator named the exact origin (a local agent's metadata server):
  // any other local port (Redis, an admin API) is never fetched.
  if (isLoopbackHost(url.hostname))
    return allowedLoopbackOrigins.includes(url.origin)
      ? null
      : `names a loopback origin (${url.origin}) not in allowedLoopbackOrigins`;
  if (url.protocol !== "https:") return "must use https";
  return hostProblem(url.hostname);
}

// The document describes a client with no shared secret (CIMD draft, "Client ID Metadata
// Document"): no client_secret members, and no client_secret_* authentication.
const documentIdentity = z.object({
  client_id: z.string(),
  client_secret: z.never({ message: "must not be present in a metadata document" }).optional(),
  client_secret_expires_at: z.never({ message: "must not be present in a metadata document" }).optional(),
});
const documentMetadata = clientMetadataSchema(["none", "private_key_jwt"]);

type Fetched = { ok: true; document: unknown; maxAgeMs?: number } | { ok: false; reason: string };

/** A Cache-Control lifetime in ms: 0 for no-store / no-cache, undefined when none is given. */
function cacheLifetime(cacheControl: string | null): number | undefined {
  if (!cacheControl) return undefined;
  const directives = cacheControl
    .toLowerCase()
    .split(",")
    .map((d) => d.trim());
  if (directives.includes("no-store") || directives.includes("no-cache")) return 0;
  for (const directive of directives) {
    const maxAge = /^max-age="?(\d+)"?$/.exec(directive);
    if (maxAge) return Number(maxAge[1]) * 1000;
  }
  return undefined;
}

async function download(clientId: string, maxBytes: number, signal: AbortSignal): Promise<Fetched> {
  try {
    // CIMD draft, "Client Information Discovery": redirects are not followed, only a 200 with
    // a JSON content type counts, and every other answer is an error.
    const res = await fetch(clientId, { redirect: "manual", signal, headers: { Accept: "application/json" } });
    const type = res.headers.get("Content-Type")?.split(";")[0]?.trim().toLowerCase() ?? "";
    let problem: string | null = null;
    if (res.status !== 200) problem = `the document URL answered ${res.status}`;
    else if (!/^application\/([a-z0-9.!#$&^_-]+\+)?json$/.test(type))
      problem = `the document's content type is ${type || "missing"}, not JSON`;
    if (problem) {
      await res.body?.cancel().catch(() => undefined);
      return { ok: false, reason: problem };
    }
    const bytes = await readAtMost(res.body, maxBytes);
    if (!bytes) return { ok: false, reason: `the document is larger than ${maxBytes} bytes` };
    let document: unknown;
    try {
      document = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
    } catch {
      return { ok: false, reason: "the document is not valid JSON" };
    }
    const maxAgeMs = cacheLifetime(res.headers.get("Cache-Control"));
    return { ok: true, document, ...(maxAgeMs !== undefined ? { maxAgeMs } : {}) };
  } catch (err) {
    return { ok: false, reason: `fetching the document failed: ${(err as Error).message}` };
  }
}

/** Fetches within `fetchTimeout`, headers and body together, so a slow server cannot hold a request. */
async function fetchDocument(clientId: string, settings: Settings): Promise<Fetched> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<Fetched>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve({ ok: false, reason: `the document did not arrive within ${settings.fetchTimeout} ms` });
    }, settings.fetchTimeout);
  });
  try {
    return await Promise.race([download(clientId, settings.maxBytes, controller.signal), deadline]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/** The client a document describes, or why it describes none. */
function documentClient(provider: ProviderContext, clientId: string, document: unknown): Client | string {
  const identity = documentIdentity.safeParse(document);
  if (!identity.success) return metadataError(identity.error).description;
  // CIMD draft: simple string comparison (RFC 3986 §6.2.1) with the URL it was fetched from.
  if (identity.data.client_id !== clientId)
    return `the document's client_id is ${identity.data.client_id}, not its own URL`;
  const parsed = documentMetadata.safeParse(document);
  if (!parsed.success) return metadataError(parsed.error).description;
  let metadata = parsed.data;
  // A document is written once for every authorization server, so a grant this one does not
  // give such clients (client_credentials, docs/auth-tier.md) is left out rather than
  // failing the whole document; a document asking for nothing else describes no client here.
  if (machineGrantProblem(provider, metadata)) {
    metadata = { ...metadata, grantTypes: metadata.grantTypes.filter((g) => g !== GRANT_TYPES.clientCredentials) };
    if (metadata.grantTypes.length === 0)
      return "its only grant, client_credentials, is for clients the operator configures";
  }
  return {
    clientId,
    name: metadata.clientName ?? new URL(clientId).host,
    source: "metadata-document",
    tokenEndpointAuthMethod: metadata.tokenEndpointAuthMethod,
    ...(metadata.jwks ? { jwks: metadata.jwks } : {}),
    redirectUris: metadata.redirectUris,
    postLogoutRedirectUris: metadata.postLogoutRedirectUris,
    grantTypes: metadata.grantTypes,
    // The document's `scope`, if any, capped by `registration.defaultScopes` (names this provider
    // does not know are dropped: the document is written for every authorization server).
    scopes: registeredScopes(provider, metadata),
    allowedAudiences: [],
    skipConsent: false,
  };
}

function refuse(clientId: string, reason: string): null {
  log("warn", "client_metadata_document.refused", { clientId, reason });
  return null;
}

/**
 * The client a metadata document URL describes, or null (the caller reports an unknown client)
 * when documents are disabled or the URL, the fetch or the document is not acceptable.
 */
export async function findMetadataDocumentClient(provider: ProviderContext, clientId: string): Promise<Client | null> {
  const settings = provider.config.provider.clientIdMetadataDocuments;
  if (!settings.enabled) return refuse(clientId, "client ID metadata documents are disabled");
  const problem = clientIdUrlProblem(clientId, settings.allowedLoopbackOrigins);
  if (problem) return refuse(clientId, `the client_id URL ${problem}`);
  const cacheName = `cimd:${clientId}`;
  const cached = await provider.store.cacheGet<Client>(cacheName);
  if (cached) return cached;
  const fetched = await fetchDocument(clientId, settings);
  if (!fetched.ok) return refuse(clientId, fetched.reason);
  const client = documentClient(provider, clientId, fetched.document);
  if (typeof client === "string") return refuse(clientId, client);
  // CIMD draft, "Metadata Caching": the document's own Cache-Control may only shorten our TTL.
  const ttl = Math.min(settings.cacheTTL, fetched.maxAgeMs ?? Infinity);
  if (ttl > 0) await provider.store.cacheSet(cacheName, client, ttl);
  return client;
}
