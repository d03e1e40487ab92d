// Configuration of the gateway's apps (docs/apps.md): where tools come from and how each call is
// authorized outbound. Field names follow Maverics' `apps` block; each field's description here is
// what docs/configuration.md says of it (npm run docs:config).
import { z } from "zod";
import { duration, httpUrl } from "../core/config-schema.js";
import { parseDurationMs } from "../core/duration.js";

const secretRef = z
  .object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "expected an environment variable name") })
  .strict();
/** MCP 2025-11-25 tool names: 1–128 of [A-Za-z0-9_.-]; namespaces stay within what every client accepts. */
const namespace = z.string().regex(/^[A-Za-z0-9-]{1,32}$/, "expected 1-32 letters, digits or '-'");

/** A per-tool outbound configuration: name exact, or a regex that must match the whole name. */
const toolConfig = z
  .object({
    name: z
      .string()
      .min(1)
      .describe(
        "The upstream tool's name, exact, or a regular expression written `^…$` that must match the whole name.",
      ),
    ttl: duration("5s").describe("Lifetime of the token exchanged for this tool's calls."),
    scopes: z
      .array(z.object({ name: z.string().min(1).describe("A scope.") }).strict())
      .default([])
      .describe("Scopes asked for this tool's token (within the agent token's scopes and the gateway client's)."),
  })
  .strict()
  .superRefine((tool, ctx) => {
    if (!isPattern(tool.name)) return;
    try {
      new RegExp(tool.name);
    } catch {
      ctx.addIssue({ code: "custom", path: ["name"], message: "not a valid regular expression" });
    }
  });

/** A tool name written as a regex: `^…$` (anchoring is implied either way). */
export function isPattern(name: string): boolean {
  return name.startsWith("^") || name.endsWith("$");
}

const tokenExchange = z
  .object({
    type: z
      .enum(["delegation", "impersonation"])
      .default("delegation")
      .describe(
        "`delegation`: the upstream's token names the agent in `act` (RFC 8693 §4.1); `impersonation`: no `act`, and the gateway's client must be allowed it.",
      ),
    idp: z
      .string()
      .min(1)
      .default("auth")
      .describe("Which identity provider performs the exchange (a key of `mcpProvider.identityProviders`)."),
    audience: z
      .string()
      .min(1)
      .describe("The audience (and resource) of the exchanged token: the upstream's own identifier."),
    cache: z
      .boolean()
      .default(true)
      .describe(
        "Reuse an exchanged token within the session, per (tool configuration, audience, scopes), while it will outlive the call.",
      ),
    reuseMargin: duration("1s").describe(
      "A cached token is reused only while it has more than this left to live (by its own `exp`), or more than the app's slowest recent call when that is longer: a token must not expire between leaving the gateway and being checked upstream. Raise it for upstreams whose clock runs ahead of the identity provider's.",
    ),
    defaults: z
      .object({
        ttl: duration("5s").describe("Lifetime of the exchanged token."),
        scopes: z
          .array(z.object({ name: z.string().min(1).describe("A scope.") }).strict())
          .default([])
          .describe("Scopes asked for the exchanged token."),
      })
      .strict()
      .prefault({})
      .describe(
        "Used for tools no entry of `tools` matches, and for everything that is not a tool call (listings, prompts, resources).",
      ),
    tools: z
      .array(toolConfig)
      .default([])
      .describe("Per-tool token settings; the first entry whose `name` matches wins."),
  })
  .strict();

const outbound = z.discriminatedUnion("type", [
  z.object({ type: z.literal("none").describe("Send no token upstream.") }).strict(),
  z
    .object({
      type: z
        .literal("tokenExchange")
        .describe("Exchange the agent's token for one per call (RFC 8693); the agent's own token never goes upstream."),
      tokenExchange: tokenExchange.describe("How the per-call token is obtained."),
    })
    .strict(),
]);

/** A policy's name: its directory under policies/build/ (see src/gateway/policy/registry.ts). */
const policyName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "expected 1-64 letters, digits, '_' or '-'");

/** An OPA policy compiled to wasm and bundled into the gateway worker (docs/policy.md). */
const opaPolicy = z
  .object({
    name: policyName.describe(
      "The bundled policy to evaluate: its directory name under `policies/`, as `npm run policy:build` built it.",
    ),
    file: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Where the policy comes from (Rego directory, bundle.tar.gz or policy.wasm), for people and tooling: a worker cannot read files, so the gateway finds the policy by `name`.",
      ),
    entrypoint: z
      .string()
      .min(1)
      .optional()
      .describe(
        "The rule to evaluate, as given to `opa build -e` (e.g. `mcp/scopes/decision`); default: the policy's only entrypoint.",
      ),
  })
  .strict();

/** Who may call which tool: a policy that decides every tools/call and filters tools/list. */
export const inboundAuthorizationSchema = z
  .object({
    opa: opaPolicy
      .optional()
      .describe("An OPA policy (Rego compiled to wasm) deciding every call and every listed item."),
  })
  .strict();

const appBase = {
  name: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, "expected 1-64 letters, digits, '_' or '-'")
    .describe("The app's name: in audit events, metrics, policy input (`app.name`) and the default namespace."),
  toolNamespace: z
    .union([namespace, z.literal("")])
    .optional()
    .describe(
      "Prefix of this app's tool and prompt names (`<namespace>__<tool>`); default: the app's name; `\"\"` exposes names unchanged. Namespaces must differ between apps.",
    ),
  authorization: z
    .object({
      inbound: inboundAuthorizationSchema
        .optional()
        .describe(
          "This app's own policy; with a global one too (`mcpProvider.authorization.inbound`), both must allow.",
        ),
      outbound: outbound
        .default({ type: "none" })
        .describe("What the gateway sends upstream as the caller's credentials."),
    })
    .strict()
    .prefault({})
    .describe("Who may call this app's tools (inbound) and what token reaches the upstream (outbound)."),
  timeout: duration("30s").describe("Upper bound on one upstream call."),
  listTimeout: z
    .union([z.string(), z.number()])
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return undefined;
      const ms = parseDurationMs(value);
      if (ms === null) {
        ctx.addIssue({ code: "custom", message: 'expected a duration such as "3s" or "500ms"' });
        return z.NEVER;
      }
      return ms;
    })
    .meta({
      "x-kind": "duration",
      description: "How long the agent's lists wait for this app; default: `mcpProvider.limits.listTimeout`.",
    }),
};

export const mcpProxyAppSchema = z
  .object({
    ...appBase,
    type: z
      .literal("mcpProxy")
      .describe(
        "An upstream MCP server over Streamable HTTP; its tools, prompts and resources pass through under the namespace.",
      ),
    upstream: z
      .object({
        transport: z.literal("stream").default("stream").describe("Streamable HTTP, the only transport."),
        stream: z
          .object({ url: httpUrl.describe("The upstream MCP endpoint.") })
          .strict()
          .describe("Where the upstream listens."),
      })
      .strict()
      .describe("The upstream MCP server."),
    upstreamProtocol: z
      .enum(["auto", "2026-07-28", "2025-11-25"])
      .default("auto")
      .describe(
        "The upstream's protocol era. `auto`: probe once with `server/discover` (MCP 2026-07-28) and fall back to `initialize` when the upstream does not speak it; the answer is remembered. `2026-07-28`: stateless, every request with its `_meta` envelope, no probe. `2025-11-25`: an `initialize`d session (2025-11-25, 2025-06-18 or 2025-03-26, as the upstream answers), no probe.",
      ),
  })
  .strict();

export const mcpBridgeAppSchema = z
  .object({
    ...appBase,
    type: z
      .literal("mcpBridge")
      .describe("An OpenAPI 3.0/3.1 document: each operation becomes a tool the gateway serves itself."),
    openapi: z
      .object({
        spec: z
          .union([
            z.object({ uri: httpUrl.describe("Fetch the document from this URL.") }).strict(),
            z
              .object({
                inline: z
                  .union([z.string(), z.record(z.string(), z.unknown())])
                  .describe("The document itself, as JSON/YAML text or an object."),
              })
              .strict(),
          ])
          .describe("The OpenAPI document: `{ uri }` or `{ inline }`."),
        baseURL: httpUrl.optional().describe("Where calls go; default: the document's `servers[0].url`."),
      })
      .strict()
      .describe("The API the tools call."),
  })
  .strict();

export const appSchema = z.discriminatedUnion("type", [mcpProxyAppSchema, mcpBridgeAppSchema]);

/** How the gateway authenticates to an identity provider when it exchanges tokens. */
export const identityProviderSchema = z
  .object({
    tokenEndpoint: httpUrl.describe("The identity provider's token endpoint; with `binding`, only its path matters."),
    binding: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, "expected a binding name")
      .optional()
      .describe("Reach it through this service binding (e.g. `AUTH`) instead of the network."),
    clientId: z
      .string()
      .min(1)
      .describe("The gateway's client id there (a static client with the token-exchange grant)."),
    clientSecret: secretRef.describe("The gateway's client secret, from a Wrangler secret."),
  })
  .strict();

export type AppConfig = z.output<typeof appSchema>;
export type McpProxyAppConfig = z.output<typeof mcpProxyAppSchema>;
export type McpBridgeAppConfig = z.output<typeof mcpBridgeAppSchema>;
export type ToolConfig = z.output<typeof toolConfig>;
export type TokenExchangeConfig = z.output<typeof tokenExchange>;
export type IdentityProviderConfig = z.output<typeof identityProviderSchema>;
