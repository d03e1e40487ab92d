// Configuration of the gateway's apps (README "Gateway apps"): where tools come from and how each call
// is authorized outbound. Field names follow Maverics' `apps` block.
import { z } from "zod";
import { duration, httpUrl } from "../core/config-schema.js";
import { parseDurationMs } from "../core/duration.js";

const secretRef = z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "expected an environment variable name") }).strict();
/** MCP 2025-11-25 tool names: 1–128 of [A-Za-z0-9_.-]; namespaces stay within what every client accepts. */
const namespace = z.string().regex(/^[A-Za-z0-9-]{1,32}$/, "expected 1-32 letters, digits or '-'");

/** A per-tool outbound configuration: name exact, or a regex that must match the whole name. */
const toolConfig = z
  .object({
    name: z.string().min(1),
    ttl: duration("5s"),
    scopes: z.array(z.object({ name: z.string().min(1) }).strict()).default([]),
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
    type: z.enum(["delegation", "impersonation"]).default("delegation"),
    /** Which identity provider performs the exchange (a key of mcpProvider.identityProviders). */
    idp: z.string().min(1).default("auth"),
    audience: z.string().min(1),
    /** Reuse an exchanged token within the session while it will outlive the call. */
    cache: z.boolean().default(true),
    /**
     * A cached token is reused only while it has more than this left to live (by its own `exp`),
     * or more than the app's slowest recent call when that is longer: a token must not expire
     * between leaving the gateway and being checked upstream. Raise it for upstreams whose clock
     * runs ahead of the identity provider's.
     */
    reuseMargin: duration("1s"),
    /** Used for tools no entry of `tools` matches (and for listing). */
    defaults: z
      .object({ ttl: duration("5s"), scopes: z.array(z.object({ name: z.string().min(1) }).strict()).default([]) })
      .strict()
      .prefault({}),
    tools: z.array(toolConfig).default([]),
  })
  .strict();

const outbound = z.discriminatedUnion("type", [
  z.object({ type: z.literal("none") }).strict(),
  z.object({ type: z.literal("tokenExchange"), tokenExchange }).strict(),
]);

/** A policy's name: its directory under policies/build/ (see src/gateway/policy/registry.ts). */
const policyName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "expected 1-64 letters, digits, '_' or '-'");

/** An OPA policy compiled to wasm and bundled into the gateway worker (README "Policy"). */
const opaPolicy = z
  .object({
    /** The bundled policy to evaluate: the name `npm run policy:build` gave it. */
    name: policyName,
    /**
     * Where the policy comes from (Rego directory, bundle.tar.gz or policy.wasm), for people and
     * tooling: a worker cannot read files, so the gateway finds the policy by `name`.
     */
    file: z.string().min(1).optional(),
    /** The rule to evaluate, as given to `opa build -e` (e.g. mcp/github/decision); default: the policy's only entrypoint. */
    entrypoint: z.string().min(1).optional(),
  })
  .strict();

/** Who may call which tool: a policy that decides every tools/call and filters tools/list. */
export const inboundAuthorizationSchema = z.object({ opa: opaPolicy.optional() }).strict();

const appBase = {
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "expected 1-64 letters, digits, '_' or '-'"),
  /** Prefix of this app's tool names (`<namespace>__<tool>`); "" exposes names unchanged. */
  toolNamespace: z.union([namespace, z.literal("")]).optional(),
  authorization: z
    .object({
      /** This app's own policy; with a global one too (mcpProvider.authorization.inbound), both must allow. */
      inbound: inboundAuthorizationSchema.optional(),
      outbound: outbound.default({ type: "none" }),
    })
    .strict()
    .prefault({}),
  /** Upper bound on one upstream call. */
  timeout: duration("30s"),
  /** How long the agent's lists wait for this app; default mcpProvider.limits.listTimeout. */
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
    }),
};

export const mcpProxyAppSchema = z
  .object({
    ...appBase,
    type: z.literal("mcpProxy"),
    upstream: z.object({ transport: z.literal("stream").default("stream"), stream: z.object({ url: httpUrl }).strict() }).strict(),
  })
  .strict();

export const mcpBridgeAppSchema = z
  .object({
    ...appBase,
    type: z.literal("mcpBridge"),
    openapi: z
      .object({
        spec: z.union([z.object({ uri: httpUrl }).strict(), z.object({ inline: z.union([z.string(), z.record(z.string(), z.unknown())]) }).strict()]),
        /** Overrides the document's `servers[0].url`. */
        baseURL: httpUrl.optional(),
      })
      .strict(),
  })
  .strict();

export const appSchema = z.discriminatedUnion("type", [mcpProxyAppSchema, mcpBridgeAppSchema]);

/** How the gateway authenticates to an identity provider when it exchanges tokens. */
export const identityProviderSchema = z
  .object({
    /** The auth tier's token endpoint; with `binding` only its path matters. */
    tokenEndpoint: httpUrl,
    binding: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "expected a binding name").optional(),
    clientId: z.string().min(1),
    clientSecret: secretRef,
  })
  .strict();

export type AppConfig = z.output<typeof appSchema>;
export type McpProxyAppConfig = z.output<typeof mcpProxyAppSchema>;
export type McpBridgeAppConfig = z.output<typeof mcpBridgeAppSchema>;
export type ToolConfig = z.output<typeof toolConfig>;
export type TokenExchangeConfig = z.output<typeof tokenExchange>;
export type IdentityProviderConfig = z.output<typeof identityProviderSchema>;
