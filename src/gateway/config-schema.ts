import { z } from "zod";
import { observabilitySchema } from "../core/telemetry/config-schema.js";
import { byteSize, duration, httpUrl } from "../core/config-schema.js";
import { appSchema, identityProviderSchema, inboundAuthorizationSchema } from "./apps-schema.js";

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
    issuer: httpUrl,
    /** RFC 8414 metadata URL; default: the issuer's /.well-known/oauth-authorization-server. */
    wellKnownEndpoint: httpUrl.optional(),
    /** Reach the server through this service binding (no network hop) instead of its URL. */
    binding: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "expected a binding name").optional(),
    tokenValidation: z
      .object({
        method: z.literal("jwt").default("jwt"),
        /** Audiences a token must carry one of: this gateway's resource URL (RFC 8707). */
        expectedAudiences: z.array(z.string().min(1)).min(1, "at least one audience is required"),
        jwt: z
          .object({
            clockSkew: duration("30s"),
            algorithms: z.array(z.enum(["ES256", "EdDSA", "RS256", "PS256"])).default(["ES256", "EdDSA"]),
            /** RFC 9068 access tokens carry `typ: at+jwt`; other issuers may not. */
            requireAccessTokenType: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
        /**
         * RFC 7662: after its signature checks out, ask the server whether the token is still
         * active, so a revoked token is refused here and not only at its next token exchange.
         * Without it, tokens are checked as JWTs only and stay usable until they expire.
         */
        introspection: z
          .object({
            /** The identity provider (mcpProvider.identityProviders) whose client credentials the gateway introspects with. */
            idp: z.string().min(1),
            /** How long an "active" answer is trusted, per token and isolate: the longest a revoked token stays usable here. 0 asks on every request. */
            interval: duration("5s"),
            /** Default: the server metadata's introspection_endpoint. With `binding`, only its path matters. */
            endpoint: httpUrl.optional(),
            /** How long to wait for an answer; no answer refuses the request (503), never lets it through. */
            timeout: duration("3s"),
            /**
             * How long past `interval` an "active" answer may still be used while the server cannot
             * be asked (stale-if-error, as RFC 5861 defines it for HTTP caches). Default 0: no answer
             * refuses. Any value is that much longer a revoked token stays usable while the auth
             * tier is away (SECURITY.md).
             */
            staleIfError: duration("0s"),
            /**
             * Introspections in flight per isolate. Beyond it a request that needs a new answer is
             * refused at once (503 with Retry-After) rather than queued behind a slow server, so
             * overload sheds load instead of piling up timeouts. Requests for a token already being
             * asked about wait for that answer and do not count.
             */
            maxConcurrent: z.number().int().positive().default(64),
          })
          .strict()
          .optional(),
      })
      .strict(),
  })
  .strict();

export const mcpProviderSchema = z
  .object({
    /** This gateway's protected resource identifier (RFC 9728 `resource`), e.g. https://gw.example.com/mcp. */
    resource: httpUrl,
    authorization: z
      .object({
        oauth: z
          .object({
            metadataPath: z.string().startsWith("/").default("/.well-known/oauth-protected-resource"),
            servers: z.array(authorizationServer).min(1, "at least one authorization server is required"),
            /** Scopes advertised in the resource metadata (RFC 9728 `scopes_supported`). */
            scopesSupported: z.array(z.string()).default([]),
            /** Scopes every token must carry to use the MCP endpoint; otherwise 403 insufficient_scope. */
            requiredScopes: z.array(z.string().min(1)).default([]),
          })
          .strict(),
        /** A policy for every app's tools; an app's own policy (apps[].authorization.inbound) must allow as well. */
        inbound: inboundAuthorizationSchema.optional(),
        /**
         * The decision for tool calls and listings when no policy is configured, neither here
         * nor on the app. `deny` by default, so that a gateway deployed without policies stays
         * closed; `allow` is for local development only. Never a fallback for failures: a
         * configured policy that is missing, broken or fails denies.
         */
        defaultDecision: z.enum(["allow", "deny"]).default("deny"),
      })
      .strict(),
    /** Logs, traces and metrics (README "Observability"). */
    observability: observabilitySchema,
    /**
     * Audit events go to the worker log always, and to this HTTP sink when configured: at least once,
     * through a durable outbox, each event with a unique `id` the sink dedupes on (README "Audit").
     */
    audit: z
      .object({
        sink: z
          .object({
            url: httpUrl,
            /** Header values from secrets, e.g. { Authorization: { env: AUDIT_SINK_AUTH } }. */
            headers: z.record(z.string(), z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/) }).strict()).default({}),
            /** How long events gather in the outbox before a delivery starts (one POST for all of them). */
            flushInterval: duration("1s"),
            maxBatch: z.number().int().min(1).max(1000).default(100),
            /** Deadline of one delivery attempt (a POST); a hanging sink costs this much, then a retry. */
            timeout: duration("10s"),
            /** First retry delay after a failed delivery; doubled per consecutive failure (with jitter) up to maxBackoff. */
            minBackoff: duration("1s"),
            /** Longest delay between retries while the sink is failing. */
            maxBackoff: duration("5m"),
            /** How long an undelivered event is kept and retried; after it, the event is dropped, logged and counted. */
            retention: duration("24h"),
            /** Undelivered events one outbox shard holds; events beyond it are dropped on arrival, logged and counted. */
            maxBacklog: z.number().int().min(1).max(10_000_000).default(100_000),
            /**
             * Outbox Durable Objects events are spread over (by session). Each delivers its own events in
             * order; more shards, more throughput and more, smaller POSTs. Lowering it strands nothing:
             * every shard keeps delivering what it holds.
             */
            shards: z.number().int().min(1).max(256).default(8),
          })
          .strict()
          .optional(),
      })
      .strict()
      .prefault({}),
    limits: z
      .object({
        /**
         * Deepest nesting of arrays and objects a POSTed body may have (the body itself is level
         * 1, a message's params level 2). Deeper bodies get HTTP 400 and JSON-RPC -32600 from the
         * front, before any session is touched. At most 1000: the runtime's RPC to the session's
         * Durable Object cannot carry values nested a few thousand levels deep.
         */
        maxJsonDepth: z.number().int().min(8).max(1000).default(64),
        /**
         * Most messages one JSON-RPC batch (protocol 2025-03-26 only) may hold. A longer batch is
         * refused whole (HTTP 400, JSON-RPC -32600) and none of it runs.
         */
        batchSize: z.number().int().min(1).max(1000).default(20),
        /**
         * Live sessions one principal (issuer + user + agent, as src/gateway/auth/principal.ts
         * defines it) may hold at once. Beyond it, initialize gets HTTP 429 with Retry-After. A
         * session holds its slot until it ends (DELETE, idle timeout); a session that vanished
         * without ending loses it at most one idle timeout (transports.stream.session.timeout)
         * after its last activity. 0 turns the limit off.
         */
        sessionsPerPrincipal: z.number().int().min(0).default(100),
        /**
         * Tool calls one principal may make across all its sessions: `limit` per `period`, as a
         * token bucket kept in the principal's own Durable Object, so opening a new session does
         * not renew it. Off unless set. Calls beyond it get a tool error saying when to retry and
         * the audit outcome `rate_limited`, before any policy, exchange or upstream request.
         */
        toolCallsPerPrincipal: z.object({ limit: z.number().int().min(1), period: duration("1m") }).strict().optional(),
        /**
         * Tool calls one session may make: `limit` per `period`, as a token bucket (a burst of up
         * to `limit` at once, refilled evenly). Off unless set. Calls beyond it get a tool error
         * and the audit outcome `rate_limited`, before any policy, exchange or upstream request.
         * A brake for one runaway agent loop, kept in the session's memory: a new session starts
         * with a full one, so a budget the agent cannot renew is toolCallsPerPrincipal.
         */
        toolCallsPerSession: z.object({ limit: z.number().int().min(1), period: duration("1m") }).strict().optional(),
        /**
         * How long tools/list, prompts/list, resources/list and resources/templates/list wait for
         * each app (an app's own `listTimeout` overrides it). An app that has not listed by then is
         * reported under _meta["gateway/unavailableApps"], as a failed one is, while its listing
         * goes on under the app's `timeout` and fills the session's catalog when it lands.
         */
        listTimeout: duration("3s"),
      })
      .strict()
      .prefault({}),
    /** Identity providers the gateway exchanges tokens with, by name (apps refer to them). */
    identityProviders: z.record(z.string(), identityProviderSchema).default({}),
    transports: z
      .object({
        stream: z
          .object({
            endpointPath: z.string().startsWith("/", "expected a path starting with /").default("/mcp"),
            /**
             * Largest accepted request body; larger ones get 413. At most 8 MiB: its messages go
             * to the session's Durable Object over the runtime's RPC, which carries at most 32 MiB,
             * and parsed text may take up to twice its UTF-8 size there.
             */
            maxRequestBytes: byteSize("1MiB").refine((bytes) => bytes <= 8 * 1024 * 1024, "at most 8MiB"),
            /**
             * Browser origins allowed to call the endpoint besides the gateway's own. Requests
             * without Origin (non-browser agents) are not affected. MCP Streamable HTTP: servers
             * MUST validate Origin to prevent DNS rebinding.
             */
            allowedOrigins: z.array(origin).default([]),
            session: z
              .object({
                headerName: headerName.default("Mcp-Session-Id"),
                allowClientTermination: z.boolean().default(true),
                /** Idle time after which a session ends. */
                timeout: duration("1h"),
              })
              .strict()
              .prefault({}),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const gatewayConfigSchema = z
  .object({ mcpProvider: mcpProviderSchema, apps: z.array(appSchema).default([]) })
  .strict()
  .superRefine((config, ctx) => {
    config.mcpProvider.authorization.oauth.servers.forEach((server, i) => {
      const idp = server.tokenValidation.introspection?.idp;
      if (idp !== undefined && !config.mcpProvider.identityProviders[idp]) {
        ctx.addIssue({ code: "custom", path: ["mcpProvider", "authorization", "oauth", "servers", i, "tokenValidation", "introspection", "idp"], message: `no identity provider named "${idp}" in mcpProvider.identityProviders` });
      }
    });
    const seen = new Map<string, number>();
    config.apps.forEach((app, i) => {
      const ns = app.toolNamespace ?? app.name;
      if (seen.has(ns)) ctx.addIssue({ code: "custom", path: ["apps", i, "toolNamespace"], message: `the namespace "${ns}" is already used by apps.${seen.get(ns)}` });
      seen.set(ns, i);
      const outbound = app.authorization.outbound;
      if (outbound.type === "tokenExchange" && !config.mcpProvider.identityProviders[outbound.tokenExchange.idp]) {
        ctx.addIssue({ code: "custom", path: ["apps", i, "authorization", "outbound", "tokenExchange", "idp"], message: `no identity provider named "${outbound.tokenExchange.idp}" in mcpProvider.identityProviders` });
      }
    });
  });

export type McpProviderConfig = z.output<typeof mcpProviderSchema>;
export type StreamTransportConfig = McpProviderConfig["transports"]["stream"];

export type AuthorizationServerConfig = z.output<typeof authorizationServer>;
