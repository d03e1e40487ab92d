import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/core/config-loader.js";
import { parseDurationMs, parseSizeBytes } from "../../src/core/duration.js";
import { gatewayConfigSchema } from "../../src/gateway/config-schema.js";

describe("durations in config", () => {
  it.each([
    ["1h", 3_600_000],
    ["30s", 30_000],
    ["1h30m", 5_400_000],
    ["250ms", 250],
    ["1.5s", 1_500],
    [5, 5_000],
  ] as const)("reads %s as %i ms", (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(["", "1", "1d", "-1s", "s", "1 h", "soon"])("refuses %j", (text) => {
    expect(parseDurationMs(text)).toBeNull();
  });
});

describe("sizes in config", () => {
  it.each([
    ["1MiB", 1_048_576],
    ["512KB", 512_000],
    ["4KiB", 4_096],
    ["100", 100],
    [2048, 2048],
  ] as const)("reads %s as %i bytes", (text, bytes) => {
    expect(parseSizeBytes(text)).toBe(bytes);
  });

  it.each(["lots", "1TB", "-1", "1 MiB MiB"])("refuses %j", (text) => {
    expect(parseSizeBytes(text)).toBeNull();
  });
});

describe("gateway configuration schema", () => {
  const minimal = {
    resource: "https://gw.example/mcp",
    authorization: {
      oauth: {
        servers: [
          { issuer: "https://auth.example", tokenValidation: { expectedAudiences: ["https://gw.example/mcp"] } },
        ],
      },
    },
  };

  it("fills every default from a minimal mcpProvider", () => {
    const parsed = parseConfig(gatewayConfigSchema, { mcpProvider: minimal });
    expect(parsed).toEqual({
      ok: true,
      config: {
        apps: [],
        mcpProvider: {
          resource: "https://gw.example/mcp",
          audit: {},
          limits: { maxJsonDepth: 64, batchSize: 20, sessionsPerPrincipal: 100, listTimeout: 3_000 },
          observability: { logLevel: "info", logToolArguments: false },
          identityProviders: {},
          authorization: {
            defaultDecision: "deny",
            oauth: {
              metadataPath: "/.well-known/oauth-protected-resource",
              requiredScopes: [],
              servers: [
                {
                  issuer: "https://auth.example",
                  tokenValidation: {
                    method: "jwt",
                    expectedAudiences: ["https://gw.example/mcp"],
                    jwt: { clockSkew: 30_000, algorithms: ["ES256", "EdDSA"], requireAccessTokenType: true },
                  },
                },
              ],
            },
          },
          transports: {
            stream: {
              endpointPath: "/mcp",
              maxRequestBytes: 1_048_576,
              allowedOrigins: [],
              cacheTtl: 60_000,
              keepAlive: 15_000,
              session: { headerName: "Mcp-Session-Id", allowClientTermination: true, timeout: 3_600_000 },
            },
          },
        },
      },
    });
  });

  it("reads an app's own listTimeout, and leaves it unset otherwise (mcpProvider.limits.listTimeout applies)", () => {
    const app = (extra: Record<string, unknown>) => ({
      name: "a",
      type: "mcpProxy",
      upstream: { stream: { url: "https://up.example/mcp" } },
      ...extra,
    });
    const parsed = parseConfig(gatewayConfigSchema, {
      mcpProvider: minimal,
      apps: [app({ listTimeout: "500ms" }), app({ name: "b" })],
    });
    expect(parsed.ok && parsed.config.apps.map((a) => a.listTimeout)).toEqual([500, undefined]);
    const refused = parseConfig(gatewayConfigSchema, { mcpProvider: minimal, apps: [app({ listTimeout: "soon" })] });
    expect(refused.ok).toBe(false);
  });

  it("names the field of each issue", () => {
    const parsed = parseConfig(gatewayConfigSchema, {
      mcpProvider: { ...minimal, transports: { stream: { allowedOrigins: ["https://a.example/path"] } } },
    });
    expect(parsed).toEqual({
      ok: false,
      issues: [{ path: "mcpProvider.transports.stream.allowedOrigins.0", message: expect.stringContaining("origin") }],
    });
  });

  it("refuses introspection through an identity provider the configuration does not define", () => {
    const servers = [
      {
        ...minimal.authorization.oauth.servers[0],
        tokenValidation: {
          ...minimal.authorization.oauth.servers[0]!.tokenValidation,
          introspection: { idp: "nobody" },
        },
      },
    ];
    const parsed = parseConfig(gatewayConfigSchema, {
      mcpProvider: { ...minimal, authorization: { oauth: { servers } } },
    });
    expect(parsed).toEqual({
      ok: false,
      issues: [
        {
          path: "mcpProvider.authorization.oauth.servers.0.tokenValidation.introspection.idp",
          message: 'no identity provider named "nobody" in mcpProvider.identityProviders',
        },
      ],
    });
  });

  it.each([
    ["scopesSupported", "offline_access", "offline_access asks for refresh tokens"],
    ["requiredScopes", "offline_access", "offline_access asks for refresh tokens"],
    ["scopesSupported", 'tools:read", error="x', "scope-token"],
    ["requiredScopes", "tools:read tools:write", "scope-token"],
    ["scopesSupported", "tools\\read", "scope-token"],
    ["requiredScopes", "", "scope-token"],
  ])("refuses %s naming %j, which the 401 challenge would carry (%s)", (field, scope, message) => {
    const parsed = parseConfig(gatewayConfigSchema, {
      mcpProvider: { ...minimal, authorization: { oauth: { ...minimal.authorization.oauth, [field]: [scope] } } },
    });
    expect(parsed).toEqual({
      ok: false,
      issues: [{ path: `mcpProvider.authorization.oauth.${field}.0`, message: expect.stringContaining(message) }],
    });
  });

  it("reports a document that is not YAML or JSON", () => {
    const parsed = parseConfig(gatewayConfigSchema, "mcpProvider: [unclosed");
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.issues[0]!.path).toBe("(document)");
  });
});
