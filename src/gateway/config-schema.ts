// The gateway's configuration document (config/gateway.yaml): every field with its default and its
// description, from which docs/configuration.md is generated (npm run docs:config).
import { z } from "zod";
import { byteSize, duration, httpUrl } from "../core/config-schema.js";
import { observabilitySchema } from "../core/telemetry/config-schema.js";
import { appSchema, identityProviderSchema, inboundAuthorizationSchema } from "./apps-schema.js";

/** A token bucket of tool calls: `limit` calls in a full bucket, refilled evenly over `period`. */
const callBudget = z
  .object({
    limit: z.number().int().min(1).describe("Calls in a full bucket (the largest burst)."),
    period: duration("1m").describe("The bucket refills evenly over this period."),
  })
  .strict();

const origin = z.string().refine((value) => {
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}, "expected an origin such as https://app.example.com (scheme, host and port only)");

const headerName = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "expected an HTTP header name");

/** An authorization server whose tokens this gateway accepts (RFC 9728 `authorization_servers`). */
const authorizationServer = z
  .object({
    issuer: httpUrl.describe("A trusted authorization server's issuer."),
    wellKnownEndpoint: httpUrl
      .optional()
      .describe(
        "Where its RFC 8414 metadata (and so its `jwks_uri`) is found; default: `<issuer>/.well-known/oauth-authorization-server`.",
      ),
    binding: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, "expected a binding name")
      .optional()
      .describe("Reach the server through this service binding (e.g. `AUTH`) instead of the network: no network hop."),
    tokenValidation: z
      .object({
        method: z
          .literal("jwt")
          .default("jwt")
          .describe(
            "Tokens are JWTs, checked locally against the server's keys (JWKS cached, refetched on an unknown `kid`).",
          ),
        expectedAudiences: z
          .array(z.string().min(1))
          .min(1, "at least one audience is required")
          .describe("A token must carry one of these in `aud`: this gateway's resource URL (RFC 8707)."),
        jwt: z
          .object({
            clockSkew: duration("30s").describe("Tolerance on `exp` and `nbf`."),
            algorithms: z
              .array(z.enum(["ES256", "EdDSA", "RS256", "PS256"]))
              .default(["ES256", "EdDSA"])
              .describe("Accepted signature algorithms (never `none`, never HMAC)."),
            requireAccessTokenType: z
              .boolean()
              .default(true)
              .describe("Require `typ: at+jwt` (RFC 9068), which keeps ID tokens out; other issuers may not set it."),
          })
          .strict()
          .prefault({})
          .describe("How a token's JWT is checked."),
        introspection: z
          .object({
            idp: z
              .string()
              .min(1)
              .describe(
                "The identity provider (`mcpProvider.identityProviders`) whose client credentials the gateway introspects with.",
              ),
            interval: duration("5s").describe(
              'How long an "active" answer is trusted, per token and isolate: the longest a revoked token stays usable here. `0s` asks on every request. An "inactive" answer is remembered until the token expires.',
            ),
            endpoint: httpUrl
              .optional()
              .describe(
                "Where to ask; default: the server metadata's `introspection_endpoint`. With `binding`, only its path matters.",
              ),
            timeout: duration("3s").describe(
              "How long to wait for an answer; no answer refuses the request (503 with Retry-After), never lets it through.",
            ),
            staleIfError: duration("0s").describe(
              'How long past `interval` an "active" answer may still be used while the server cannot be asked (stale-if-error, as RFC 5861 defines it for HTTP caches; logged `auth.introspection_stale_used`). A token never answered active, or answered revoked, is never let through by it. `0s`: no answer refuses. Each second is a second longer a revoked token stays usable while the auth tier is away (SECURITY.md, docs/reliability/introspection-outage.md).',
            ),
            maxConcurrent: z
              .number()
              .int()
              .positive()
              .default(64)
              .describe(
                "Introspections in flight per isolate. Beyond it a request that needs a new answer is refused at once (503, `Retry-After: 1`) rather than queued behind a slow server; requests carrying a token already being asked about share that answer and do not count.",
              ),
          })
          .strict()
          .optional()
          .describe(
            "RFC 7662: after its signature checks out, ask the server whether the token is still active, so a revoked token is refused here within `interval` and not only at its next token exchange. Absent: tokens are checked as JWTs only and stay usable until they expire (docs/mcp-endpoint.md, Revocation).",
          ),
      })
      .strict()
      .describe("How tokens from this server are validated."),
  })
  .strict();

/**
 * A scope this resource advertises or requires: an RFC 6749 §3.3 scope-token (it is written into a
 * quoted `WWW-Authenticate` parameter, so no quote, backslash or space can get in), and never
 * `offline_access`, which MCP servers must not ask for (MCP 2026-07-28 authorization, "Refresh Tokens").
 */
const resourceScope = z
  .string()
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, "expected an RFC 6749 scope-token (no spaces, quotes or backslashes)")
  .refine((scope) => scope !== "offline_access", {
    message: "offline_access asks for refresh tokens, which are not a requirement of this resource; leave it out",
  });

export const mcpProviderSchema = z
  .object({
    resource: httpUrl.describe(
      "This gateway's protected resource identifier (RFC 9728 `resource`), e.g. `https://gw.example.com/mcp`: the audience agents' tokens must carry, and the origin browser requests must come from (besides `allowedOrigins`).",
    ),
    authorization: z
      .object({
        oauth: z
          .object({
            metadataPath: z
              .string()
              .startsWith("/")
              .default("/.well-known/oauth-protected-resource")
              .describe(
                "Path of the RFC 9728 protected resource metadata, also served path-suffixed (`…/oauth-protected-resource/mcp`), which the 401's `WWW-Authenticate` names.",
              ),
            servers: z
              .array(authorizationServer)
              .min(1, "at least one authorization server is required")
              .describe("Authorization servers whose tokens are accepted (RFC 9728 `authorization_servers`)."),
            scopesSupported: z
              .array(resourceScope)
              .optional()
              .describe(
                "The scopes a client should ask for to use the gateway: advertised (after `requiredScopes`) in the resource metadata's `scopes_supported` (RFC 9728 §2) and the `scope` of the 401 challenge (RFC 6750 §3), which is what an MCP client that configures no scope asks for. Absent: every token-exchange app's `defaults.scopes` (what listing its catalog needs); per-tool scopes are left to step-up. `[]` advertises none. Never `offline_access` (docs/auth/scopes-and-refresh-tokens.md).",
              ),
            requiredScopes: z
              .array(resourceScope)
              .default([])
              .describe(
                "Scopes every token must carry to use the MCP endpoint; otherwise 403 `insufficient_scope` naming them all. Always advertised. Never `offline_access`.",
              ),
          })
          .strict()
          .describe("Inbound OAuth: which tokens agents may present (docs/mcp-endpoint.md)."),
        inbound: inboundAuthorizationSchema
          .optional()
          .describe(
            "A policy for every app's tools, prompts and resources; an app's own policy (`apps[].authorization.inbound`) must allow as well (docs/policy.md).",
          ),
        defaultDecision: z
          .enum(["allow", "deny"])
          .default("deny")
          .describe(
            "The decision for calls and listings when no policy is configured, neither here nor on the app. `deny` keeps a gateway deployed without policies closed; `allow` is for local development only. Never a fallback for failures: a configured policy that is missing, broken or fails denies.",
          ),
      })
      .strict()
      .describe("Who may use the gateway, and what they may call."),
    observability: observabilitySchema,
    audit: z
      .object({
        sink: z
          .object({
            url: httpUrl.describe(
              'The sink\'s URL: events are POSTed as `{"events": [...]}`, each with a unique `id` the sink deduplicates on.',
            ),
            headers: z
              .record(z.string(), z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/) }).strict())
              .default({})
              .describe(
                "Request headers, each value from a secret, e.g. `{ Authorization: { env: AUDIT_SINK_AUTH } }`.",
              ),
            flushInterval: duration("1s").describe(
              "How long events gather in the outbox before a delivery starts (one POST for all of them).",
            ),
            maxBatch: z.number().int().min(1).max(1000).default(100).describe("Most events in one POST."),
            timeout: duration("10s").describe(
              "Deadline of one delivery attempt; a hanging sink costs this much, then a retry.",
            ),
            minBackoff: duration("1s").describe(
              "First retry delay after a failed delivery; doubled per consecutive failure (with jitter) up to `maxBackoff`. A sink's Retry-After is honoured.",
            ),
            maxBackoff: duration("5m").describe("Longest delay between retries while the sink is failing."),
            retention: duration("24h").describe(
              "How long an undelivered event is kept and retried; then it is dropped, logged (`audit.dropped`) and counted.",
            ),
            maxBacklog: z
              .number()
              .int()
              .min(1)
              .max(10_000_000)
              .default(100_000)
              .describe(
                "Undelivered events one outbox shard holds; events beyond it are dropped on arrival, logged and counted.",
              ),
            shards: z
              .number()
              .int()
              .min(1)
              .max(256)
              .default(8)
              .describe(
                "Outbox Durable Objects events are spread over (by session). Each delivers its own events in order; more shards, more throughput and more, smaller POSTs. Lowering it strands nothing: every shard keeps delivering what it holds.",
              ),
          })
          .strict()
          .optional()
          .describe(
            "The HTTP audit sink. Events reach it at least once, through a durable outbox (docs/audit.md). Absent: the worker log only.",
          ),
      })
      .strict()
      .prefault({})
      .describe("Audit events: one per tool call and per prompt or resource request, always in the worker log."),
    limits: z
      .object({
        maxJsonDepth: z
          .number()
          .int()
          .min(8)
          .max(1000)
          .default(64)
          .describe(
            "Deepest nesting of arrays and objects a POSTed body may have (the body itself is level 1, a message's params level 2). Deeper bodies get HTTP 400 and JSON-RPC -32600 from the front, before any session is touched. At most 1000: the runtime's RPC to the session's Durable Object cannot carry values nested a few thousand levels deep.",
          ),
        batchSize: z
          .number()
          .int()
          .min(1)
          .max(1000)
          .default(20)
          .describe(
            "Most messages one JSON-RPC batch (protocol 2025-03-26 only) may hold. A longer batch is refused whole (HTTP 400, JSON-RPC -32600) and none of it runs.",
          ),
        sessionsPerPrincipal: z
          .number()
          .int()
          .min(0)
          .default(100)
          .describe(
            "Live sessions one principal (issuer + user `sub` + agent `client_id`) may hold at once. Beyond it, `initialize` gets HTTP 429 with Retry-After and JSON-RPC -32000. A session holds its slot until it ends (DELETE, idle timeout); one that vanished without ending loses it at most one idle timeout (`transports.stream.session.timeout`) after its last activity. If the principal's object cannot be asked, 503 (fail closed). `0` turns the limit off.",
          ),
        toolCallsPerPrincipal: callBudget
          .optional()
          .describe(
            "Tool calls one principal may make across all its sessions, as a token bucket kept in the principal's own Durable Object, so opening a new session does not renew it. Off unless set. Calls beyond it get a tool error saying when to retry and the audit outcome `rate_limited`, before any policy, exchange or upstream request; if the principal's object cannot be asked, the call is refused the same way (fail closed).",
          ),
        toolCallsPerSession: callBudget
          .optional()
          .describe(
            "Tool calls one session may make, as a token bucket. Off unless set. Calls beyond it get a tool error saying when to retry and the audit outcome `rate_limited`, before any policy, exchange or upstream request. A brake for one runaway agent loop, kept in the session object's memory: it starts full after the object is evicted, and a new session starts with a full one, so a budget the agent cannot renew is `toolCallsPerPrincipal`.",
          ),
        listTimeout: duration("3s").describe(
          "How long `tools/list`, `prompts/list`, `resources/list` and `resources/templates/list` wait for each app (an app's own `listTimeout` overrides it). An app that has not listed by then is reported under `_meta[\"gateway/unavailableApps\"]`, as a failed one is, while its listing goes on under the app's `timeout`; when it lands, the agent gets `notifications/…/list_changed` (docs/reliability/late-upstream-listings.md).",
        ),
      })
      .strict()
      .prefault({})
      .describe("Limits on what agents send and how much they may do (docs/security/gateway-limits.md)."),
    identityProviders: z
      .record(z.string(), identityProviderSchema)
      .default({})
      .describe(
        "Identity providers the gateway exchanges tokens (RFC 8693) and introspects with, by name; apps and `introspection.idp` refer to them.",
      ),
    transports: z
      .object({
        stream: z
          .object({
            endpointPath: z
              .string()
              .startsWith("/", "expected a path starting with /")
              .default("/mcp")
              .describe("The MCP endpoint's path."),
            maxRequestBytes: byteSize("1MiB")
              .refine((bytes) => bytes <= 8 * 1024 * 1024, "at most 8MiB")
              .describe(
                "Largest accepted request body; larger ones get 413. At most 8 MiB: its messages go to the session's Durable Object over the runtime's RPC, which carries at most 32 MiB, and parsed text may take up to twice its UTF-8 size there.",
              ),
            allowedOrigins: z
              .array(origin)
              .default([])
              .describe(
                "Browser origins allowed to call the endpoint besides the gateway's own (the origin of `resource`); other `Origin`s get 403. Requests without Origin (non-browser agents) are not affected. MCP Streamable HTTP: servers MUST validate Origin to prevent DNS rebinding.",
              ),
            cacheTtl: duration("60s").describe(
              'MCP 2026-07-28: the `ttlMs` of `server/discover`, `tools/list`, `prompts/list`, `resources/list` and `resources/templates/list` results, how long an agent may reuse one without asking again. Lists say `cacheScope: "private"` (policies filter them per caller); `resources/read` is fresh only as long as its upstream said (0 when it said nothing).',
            ),
            keepAlive: duration("15s").describe(
              "MCP 2026-07-28: how often a `subscriptions/listen` stream, or a request's response stream, carries an SSE comment line while no message flows, so proxies and clients do not close it as idle; a response stream the agent closed is noticed by the next one at the latest (its request is then cancelled).",
            ),
            session: z
              .object({
                headerName: headerName.default("Mcp-Session-Id").describe("The session header."),
                allowClientTermination: z
                  .boolean()
                  .default(true)
                  .describe("Whether `DELETE` may end a session (otherwise 405)."),
                timeout: duration("1h").describe(
                  "Idle time after which a session ends (a Durable Object alarm) and its upstream sessions are closed.",
                ),
              })
              .strict()
              .prefault({})
              .describe("MCP sessions: one Durable Object each."),
          })
          .strict()
          .prefault({})
          .describe(
            "Streamable HTTP: MCP 2026-07-28 per request, and 2025-11-25, 2025-06-18 and 2025-03-26 in sessions (docs/mcp-endpoint.md).",
          ),
      })
      .strict()
      .prefault({})
      .describe("How agents reach the gateway."),
  })
  .strict();

export const gatewayConfigSchema = z
  .object({
    mcpProvider: mcpProviderSchema.describe(
      "The MCP Provider: how agents reach the gateway, who may, and what is recorded.",
    ),
    apps: z
      .array(appSchema)
      .default([])
      .describe(
        "Where tools, prompts and resources come from: upstream MCP servers and OpenAPI documents (docs/apps.md).",
      ),
  })
  .strict()
  .superRefine((config, ctx) => {
    config.mcpProvider.authorization.oauth.servers.forEach((server, i) => {
      const idp = server.tokenValidation.introspection?.idp;
      if (idp !== undefined && !config.mcpProvider.identityProviders[idp]) {
        ctx.addIssue({
          code: "custom",
          path: ["mcpProvider", "authorization", "oauth", "servers", i, "tokenValidation", "introspection", "idp"],
          message: `no identity provider named "${idp}" in mcpProvider.identityProviders`,
        });
      }
    });
    const seen = new Map<string, number>();
    config.apps.forEach((app, i) => {
      const ns = app.toolNamespace ?? app.name;
      if (seen.has(ns))
        ctx.addIssue({
          code: "custom",
          path: ["apps", i, "toolNamespace"],
          message: `the namespace "${ns}" is already used by apps.${seen.get(ns)}`,
        });
      seen.set(ns, i);
      const outbound = app.authorization.outbound;
      if (outbound.type === "tokenExchange" && !config.mcpProvider.identityProviders[outbound.tokenExchange.idp]) {
        ctx.addIssue({
          code: "custom",
          path: ["apps", i, "authorization", "outbound", "tokenExchange", "idp"],
          message: `no identity provider named "${outbound.tokenExchange.idp}" in mcpProvider.identityProviders`,
        });
      }
    });
  });

export type McpProviderConfig = z.output<typeof mcpProviderSchema>;
export type StreamTransportConfig = McpProviderConfig["transports"]["stream"];

export type AuthorizationServerConfig = z.output<typeof authorizationServer>;
