// The auth tier's configuration document (config/auth.yaml): every field with its default and its
// description, from which docs/configuration.md is generated (npm run docs:config).
import { z } from "zod";
import { duration, httpUrl } from "../core/config-schema.js";
import { observabilitySchema } from "../core/telemetry/config-schema.js";
import { isLoopbackHost } from "./clients/redirect-uri.js";

const cookieName = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "expected a cookie name (RFC 6265 token)");
const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, "expected a scope token (RFC 6749 §3.3)");
/** Secrets are named here and read from the environment (Wrangler secrets), never written here. */
const secretRef = z
  .object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "expected an environment variable name") })
  .strict();

export const GRANT_TYPES = {
  authorizationCode: "authorization_code",
  refreshToken: "refresh_token",
  clientCredentials: "client_credentials",
  tokenExchange: "urn:ietf:params:oauth:grant-type:token-exchange",
} as const;
/** An origin on a loopback host, written as URL.origin writes it (scheme://host:port, nothing else). */
const loopbackOrigin = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return (
      url.origin === value && (url.protocol === "http:" || url.protocol === "https:") && isLoopbackHost(url.hostname)
    );
  } catch {
    return false;
  }
}, "expected a loopback origin such as http://127.0.0.1:9004 (scheme, loopback host and port; no path)");

const grantType = z.enum(Object.values(GRANT_TYPES) as [string, ...string[]]);

/** The OIDC Core §5.4 / §11 scopes, known to every provider without configuration. */
export const OIDC_SCOPE_NAMES = ["openid", "profile", "email", "offline_access"] as const;

export const CLIENT_AUTH_METHODS = ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"] as const;

/** A client registered in configuration (static), e.g. the gateway or a machine agent. */
const staticClient = z
  .object({
    name: z.string().min(1).describe("The client's name, shown on the consent page."),
    clientId: z.string().min(1).max(255).describe("The `client_id` it authenticates with."),
    clientSecret: secretRef
      .optional()
      .describe(
        "Confidential clients name the Wrangler secret holding their secret (`{ env: NAME }`); required for `client_secret_basic` and `client_secret_post`.",
      ),
    tokenEndpointAuthMethod: z
      .enum(CLIENT_AUTH_METHODS)
      .default("client_secret_basic")
      .describe(
        "How it authenticates at the token endpoint: `private_key_jwt` needs `jwks` (assertions are single use, RFC 7523 §3); `none` is a public client.",
      ),
    jwks: z
      .object({ keys: z.array(z.record(z.string(), z.unknown())).min(1).describe("The public keys (JWKs).") })
      .optional()
      .describe("For `private_key_jwt`: the client's public keys, as a JWK set."),
    redirectUris: z
      .array(z.string())
      .default([])
      .describe(
        "Redirect URIs, matched exactly; a loopback `http://127.0.0.1` redirect may use any port (RFC 8252 §7.3).",
      ),
    postLogoutRedirectUris: z
      .array(z.string())
      .default([])
      .describe(
        "Where the client may send the person after signing them out (OpenID Connect RP-Initiated Logout 1.0 §3.1 `post_logout_redirect_uris`): matched exactly, any port included; followed only with a valid `id_token_hint` for this client (docs/auth/sign-in-sessions.md).",
      ),
    grantTypes: z
      .array(grantType)
      .default([GRANT_TYPES.authorizationCode, GRANT_TYPES.refreshToken])
      .describe(
        "Grants it may use: add `client_credentials` for a machine agent, `urn:ietf:params:oauth:grant-type:token-exchange` for the gateway. A client with `refresh_token` gets refresh tokens.",
      ),
    scopes: z
      .array(scopeToken)
      .default([])
      .describe(
        "Provider scopes (from `oidcProvider.scopes`) the client may request: exactly these, an empty list meaning none. The OIDC scopes need no listing for a client of the `authorization_code` grant: they ask about the user, who consents.",
      ),
    introspection: z
      .boolean()
      .default(false)
      .describe(
        'May introspect tokens (RFC 7662) and be told their claims: the gateway and other resource servers. Every other client is answered `{"active": false}` (RFC 7662 §2.2, §4).',
      ),
    allowedAudiences: z
      .array(z.string().min(1))
      .default([])
      .describe(
        "Audiences / resources this client may obtain tokens for besides `oidcProvider.resources` (RFC 8707); for token exchange, the only ones (RFC 8693 §2.1).",
      ),
    skipConsent: z.boolean().default(false).describe("Skip the consent page: first-party clients only."),
    tokenExchange: z
      .object({
        impersonation: z
          .boolean()
          .default(false)
          .describe("May request `exchange_type=impersonation` (a token without `act`); otherwise delegation only."),
        subjectAudiences: z
          .array(z.string().min(1))
          .optional()
          .describe(
            "Audiences a subject or actor token must have been issued for (one of) for this client to exchange it, i.e. tokens presented to this client. Default: `oidcProvider.resources`.",
          ),
      })
      .strict()
      .prefault({})
      .describe(
        "RFC 8693 token exchange, for clients granted `urn:ietf:params:oauth:grant-type:token-exchange` (docs/auth-tier.md, Token exchange).",
      ),
  })
  .strict()
  .superRefine((client, ctx) => {
    const needsSecret =
      client.tokenEndpointAuthMethod === "client_secret_basic" ||
      client.tokenEndpointAuthMethod === "client_secret_post";
    if (needsSecret && !client.clientSecret) {
      ctx.addIssue({
        code: "custom",
        path: ["clientSecret"],
        message: `required for ${client.tokenEndpointAuthMethod}: { env: NAME_OF_SECRET }`,
      });
    }
    if (client.tokenEndpointAuthMethod === "private_key_jwt" && !client.jwks) {
      ctx.addIssue({ code: "custom", path: ["jwks"], message: "required for private_key_jwt" });
    }
  });

/** A built-in user for local development: salted PBKDF2 hash from `npm run hash-password`. */
const builtinUser = z
  .object({
    username: z.string().min(1).describe("The name typed on the login page."),
    passwordHash: z
      .string()
      .regex(
        /^pbkdf2-sha256\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/,
        "expected pbkdf2-sha256$<iterations>$<salt>$<hash>",
      )
      .describe(
        "`pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64url), as `npm run hash-password -- '<password>'` prints it.",
      ),
    sub: z.string().min(1).optional().describe("The user's `sub`; default: the username."),
    claims: z
      .record(z.string(), z.unknown())
      .default({})
      .describe(
        "Claims released by scope in ID tokens and `/userinfo` (`email`, `name`, …); `groups` and `roles` also go into access tokens (RFC 9068 §2.2.3.1).",
      ),
  })
  .strict();

const upstreamIdp = z
  .object({
    issuer: httpUrl.describe(
      "The upstream OpenID provider's issuer; its metadata is discovered from it (cached 10 minutes).",
    ),
    clientId: z.string().min(1).describe("This tier's client id at the upstream provider."),
    clientSecret: secretRef.describe("This tier's client secret there, from a Wrangler secret."),
    scopes: z
      .array(scopeToken)
      .default(["openid", "profile", "email"])
      .describe("Scopes asked of the upstream provider (`openid` always)."),
    name: z.string().default("Single sign-on").describe("Label of the login button."),
  })
  .strict();

/**
 * Encryption at rest of the values kept in Redis (docs/auth-tier.md, Redis encryption at rest):
 * AES-256-GCM, the key id inside every value; the active key encrypts, every listed key decrypts.
 */
const redisEncryption = z
  .object({
    keys: z
      .array(
        z
          .object({
            id: z
              .string()
              .regex(/^[A-Za-z0-9_-]{1,32}$/, "expected a key id of 1 to 32 characters [A-Za-z0-9_-]")
              .describe("Written into every value the key encrypts; never reuse an id for other key material."),
            secret: secretRef.describe(
              "The Wrangler secret holding the key: 32 random bytes, base64url (`npm run keys -- --redis-encryption`).",
            ),
          })
          .strict(),
      )
      .min(1, "at least one key is required")
      .describe(
        "The keys. To rotate, list a new key first (or name it `activeKey`) and keep the old one listed until everything written under it has expired.",
      ),
    activeKey: z.string().optional().describe("The id of the key that encrypts new values; default: the first key."),
    acceptPlaintext: z
      .boolean()
      .default(false)
      .describe(
        "Read plain-JSON values written before encryption was switched on, while migrating an existing deployment; turn it off after the longest record lifetime (`refreshTokenTTL`, `registration.ttl`). Off: such a value is absent (and logged).",
      ),
  })
  .strict()
  .superRefine((encryption, ctx) => {
    const ids = encryption.keys.map((k) => k.id);
    if (new Set(ids).size !== ids.length)
      ctx.addIssue({ code: "custom", path: ["keys"], message: "every key needs a distinct id" });
    if (encryption.activeKey !== undefined && !ids.includes(encryption.activeKey)) {
      ctx.addIssue({ code: "custom", path: ["activeKey"], message: "must be the id of one of the keys" });
    }
  });

/** `oidcProvider.cache.redis`: an object; the string `upstash` (the only former value) means `{}`. */
const redisSchema = z
  .preprocess(
    (value) => (value === "upstash" ? {} : value),
    z
      .object({
        encryption: redisEncryption
          .optional()
          .describe(
            "Encrypt every value the tier writes to Redis (AES-256-GCM, bound to its key name). Absent: plain JSON (the keys of codes and refresh tokens are hashes either way).",
          ),
      })
      .strict(),
  )
  .prefault({})
  .describe(
    "The state store: Redis over the Upstash REST protocol (UPSTASH_REDIS_REST_URL and _TOKEN; docs/storage.md). The former string form `upstash` still reads.",
  );

export const oidcProviderSchema = z
  .object({
    discovery: z
      .object({
        issuer: httpUrl.describe(
          "The issuer URL (`iss`); every endpoint hangs off it. An https issuer gives the tier's cookies the `__Host-` prefix.",
        ),
      })
      .strict()
      .describe("OpenID Connect Discovery / RFC 8414 metadata."),
    jwks: z
      .array(
        z
          .object({
            algorithm: z.enum(["ES256", "EdDSA"]).default("ES256").describe("Signing algorithm of the key set."),
          })
          .strict(),
      )
      .default([{ algorithm: "ES256" }])
      .describe(
        "Signing keys come from the SIGNING_KEYS secret (a private JWK set from `npm run keys`); this names their algorithm.",
      ),
    tokens: z
      .object({
        accessTokenTTL: duration("1h").describe("Lifetime of access tokens (RFC 9068 JWTs)."),
        idTokenTTL: duration("1h").describe("Lifetime of ID tokens."),
        refreshTokenTTL: duration("720h").describe(
          "Absolute lifetime of a refresh-token family; rotation never extends it.",
        ),
        authorizationCodeTTL: duration("60s").describe("Lifetime of an authorization code."),
        refreshReuseGrace: duration("30s").describe(
          "How long after a rotation the refresh token it replaced, presented again by the same client while its successor is unused, gets that successor back (with a new access token) instead of revoking the grant as a reuse (OAuth 2.1 §4.3.1): a client whose answer was lost in a stall retries safely. Within it a stolen, just-rotated token yields the successor rather than revoking; `0s` turns the window off (docs/reliability/store-faults.md).",
        ),
        exchange: z
          .object({
            defaultTTL: duration("5s").describe(
              "Lifetime of an exchanged (per-tool) token when the caller asks for none: a per-tool token lives about as long as one call.",
            ),
            maxTTL: duration("5m").describe(
              "Longest lifetime a token exchange may ask for; `expires_in` above it is `invalid_request`.",
            ),
          })
          .strict()
          .prefault({})
          .describe("RFC 8693 token exchange."),
      })
      .strict()
      .prefault({})
      .describe("Token lifetimes."),
    session: z
      .object({
        cookieName: cookieName
          .default("maverics_session")
          .describe(
            "The login session cookie (HttpOnly, Secure, SameSite=Lax; `__Host-<name>` when the issuer is https, as are the tier's other cookies).",
          ),
        lifetime: duration("8h").describe("Absolute lifetime of a login session."),
        idleTimeout: duration("1h").describe("A login session unused this long ends."),
      })
      .strict()
      .prefault({})
      .describe("The login session of a user at this tier (a cookie naming a record in Redis)."),
    consent: z
      .object({
        rememberFor: duration("720h").describe(
          "How long a consent the person asked to remember lasts, from when it was given (never extended by use): a later authorization of the same client, redirect URI and no more scopes or resources skips the consent page. `0s` never offers to remember. Self-registered clients are never remembered (docs/auth/connected-agents.md).",
        ),
      })
      .strict()
      .prefault({})
      .describe("Remembered consent, listed and forgotten on the person's Connected agents page."),
    rateLimits: z
      .object({
        registration: z
          .object({
            limit: z.number().int().positive().default(30).describe("Dynamic client registrations per window."),
            window: duration("1m").describe("The fixed window they are counted in."),
          })
          .strict()
          .prefault({})
          .describe(
            "Dynamic client registrations per client address (tier-wide when no address is known); over it, 429 `temporarily_unavailable` with Retry-After.",
          ),
        loginFailures: z
          .object({
            limit: z
              .number()
              .int()
              .positive()
              .default(10)
              .describe(
                "Failures from unknown browsers per (username, client address), or per username when no address is known.",
              ),
            window: duration("15m").describe("The fixed window failures are counted in."),
            usernameLimit: z
              .number()
              .int()
              .positive()
              .default(100)
              .describe("Failures from unknown browsers per username across all addresses (when addresses are known)."),
            deviceLimit: z
              .number()
              .int()
              .positive()
              .default(5)
              .describe(
                "Failures from one known browser (a device cookie of this user), counted apart from everyone else's, so a guesser cannot lock the user out (OWASP device cookies).",
              ),
            deviceLifetime: duration("720h").describe(
              "How long a device cookie (issued at each sign-in with a password) keeps a browser known.",
            ),
          })
          .strict()
          .prefault({})
          .describe(
            "Failed sign-ins. Over a limit, unknown browsers get 429 with Retry-After, even for the right password; a browser that signed in as the user before keeps its own budget.",
          ),
      })
      .strict()
      .prefault({})
      .describe("Abuse limits, counted in Redis per fixed window (docs/security/client-addresses-and-cookies.md)."),
    clientAddress: z
      .object({
        header: z
          .string()
          .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "expected a header name")
          .nullable()
          .default(null)
          .describe(
            "The header holding the client's address. Name one only when the platform in front of the tier sets it and overwrites what the client sent (Cloudflare Workers: `CF-Connecting-IP`): any other header is the client's to choose. null: no address is known, and the limits key on what the client cannot vary.",
          ),
      })
      .strict()
      .prefault({})
      .describe("Where the client's address comes from, for the abuse limits."),
    cache: z
      .object({
        redis: redisSchema,
        timeout: duration("1s").describe("How long `GET /status` waits for Redis before calling it unreachable."),
        operationTimeout: duration("2s").describe(
          "Deadline of every other store operation, retries included: past it, or when the store fails, the request answers 503 `temporarily_unavailable` with Retry-After instead of waiting (docs/reliability/store-faults.md).",
        ),
      })
      .strict()
      .prefault({})
      .describe("State: where it is kept and how long the tier waits for it."),
    resources: z
      .array(z.string().min(1))
      .default([])
      .describe(
        "Protected resources (RFC 8707 resource indicators, token audiences) this provider issues tokens for, e.g. the gateway's `…/mcp`. Any client may ask for these; a client's `allowedAudiences` add to them for that client only.",
      ),
    scopes: z
      .array(scopeToken)
      .default([])
      .describe("Scopes this provider knows besides the OIDC ones (`openid profile email offline_access`)."),
    login: z
      .object({
        users: z.array(builtinUser).default([]).describe("Built-in users, for local development and tests."),
        upstream: upstreamIdp
          .optional()
          .describe(
            "An upstream OpenID provider to sign users in with (Okta, Entra, Auth0, Keycloak…). Its users keep the provider's `sub`; an account whose `sub` is also a built-in user's is refused (409 page) rather than made one principal with it.",
          ),
      })
      .strict()
      .prefault({})
      .describe("How users sign in."),
    registration: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            "RFC 7591 dynamic registration of public clients (MCP clients); off, `/register` answers 404 and discovery omits it.",
          ),
        ttl: duration("720h").describe("Lifetime of a registration (and of a registered client's secret)."),
        defaultScopes: z
          .array(scopeToken)
          .default([])
          .describe(
            "Provider scopes a registered or metadata-document client may obtain (OIDC scopes always); what its registration or document asks for is capped by this. Default none: list only scopes that are safe for any client a user consents to.",
          ),
        machineClients: z
          .object({
            enabled: z
              .boolean()
              .default(false)
              .describe("Accept `client_credentials` from registered and metadata-document clients."),
            scopes: z.array(scopeToken).default([]).describe("Provider scopes such a client may obtain (empty: none)."),
            resources: z
              .array(z.string().min(1))
              .default([])
              .describe("Resources (RFC 8707) or audiences such a client may obtain tokens for (empty: none)."),
          })
          .strict()
          .prefault({})
          .describe(
            "Machine clients (`client_credentials`) by registration or metadata document: tokens with no user behind them, for anyone who registers (docs/security/clients.md). Off by default.",
          ),
      })
      .strict()
      .prefault({})
      .describe("Clients that register themselves (RFC 7591) or identify by a metadata document."),
    clientIdMetadataDocuments: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe("Accept URL `client_id`s whose metadata document the tier fetches (MCP's preferred registration)."),
        fetchTimeout: duration("3s").describe("Deadline of one document fetch."),
        maxBytes: z
          .number()
          .int()
          .positive()
          .default(5 * 1024)
          .describe("Largest document accepted, in bytes."),
        cacheTTL: duration("5m").describe(
          "How long a fetched document is cached in Redis; the document's own Cache-Control may only shorten it.",
        ),
        allowedLoopbackOrigins: z
          .array(loopbackOrigin)
          .default([])
          .describe(
            "Loopback origins (`http://127.0.0.1:<port>`, `http://localhost:<port>`, `http://[::1]:<port>`) whose client_id URLs may be fetched, http included: a local agent's own metadata server (local development and tests only). Exact origin match; every other loopback URL stays refused, so a client_id cannot make the tier fetch another local port (Redis's included).",
          ),
      })
      .strict()
      .prefault({})
      .describe("Client ID metadata documents: a `client_id` that is an https URL of the client's metadata."),
    apps: z
      .array(staticClient)
      .default([])
      .describe("Static clients, configured here: the gateway, machine agents, first-party apps."),
    admin: z
      .object({
        operators: z
          .array(
            z
              .object({
                name: z
                  .string()
                  .regex(/^[A-Za-z0-9._@-]{1,64}$/, "expected a short name (letters, digits, . _ @ -)")
                  .describe("Who the operator is, as the audit log names them."),
                token: secretRef.describe(
                  "The Wrangler secret holding the operator's bearer token (at least 32 random bytes: `openssl rand -base64 32`).",
                ),
              })
              .strict(),
          )
          .default([])
          .describe(
            "Operators of the admin API, each with a bearer token from a secret. Empty (the default): the admin API is off and answers 404.",
          ),
      })
      .strict()
      .prefault({})
      .describe(
        "The admin API (`/admin/…`, docs/auth/grants-and-admin.md): list a person's grants, revoke one, all of a person's, or every token of a client. Never reachable with a user's sign-in or an OAuth token.",
      ),
    observability: observabilitySchema,
  })
  .strict()
  .superRefine((provider, ctx) => {
    // A misspelt scope here would silently grant nothing; say so instead.
    const known = new Set([...OIDC_SCOPE_NAMES, ...provider.scopes]);
    const check = (path: (string | number)[], scopes: string[]) =>
      scopes.forEach((scope, i) => {
        if (!known.has(scope))
          ctx.addIssue({ code: "custom", path: [...path, i], message: `${scope} is not in oidcProvider.scopes` });
      });
    check(["registration", "defaultScopes"], provider.registration.defaultScopes);
    check(["registration", "machineClients", "scopes"], provider.registration.machineClients.scopes);
  });

export const authConfigSchema = z
  .object({ oidcProvider: oidcProviderSchema.describe("The OAuth 2.1 / OpenID Connect provider (docs/auth-tier.md).") })
  .strict();

export const redisEnvSchema = z.object({
  UPSTASH_REDIS_REST_URL: httpUrl,
  UPSTASH_REDIS_REST_TOKEN: z
    .string({ message: "required (wrangler secret put UPSTASH_REDIS_REST_TOKEN)" })
    .min(1, "must not be empty"),
});

const signingJwk = z
  .object({
    kty: z.enum(["EC", "OKP"]),
    kid: z.string().min(1),
    alg: z.enum(["ES256", "EdDSA"]),
    crv: z.enum(["P-256", "Ed25519"]),
    x: z.string(),
    y: z.string().optional(),
    d: z.string({ message: "a private key is required (the d member)" }),
    activeFrom: z.number().int().nonnegative().optional(),
  })
  .loose();

/** SIGNING_KEYS: the private JWK set (a Wrangler secret). Issues never echo key material. */
export const signingKeysSchema = z
  .object({ keys: z.array(signingJwk).min(1, "at least one key is required") })
  .superRefine((set, ctx) => {
    const kids = set.keys.map((k) => k.kid);
    if (new Set(kids).size !== kids.length) ctx.addIssue({ code: "custom", message: "every key needs a distinct kid" });
  });

export type OidcProviderConfig = z.output<typeof oidcProviderSchema>;
export type StaticClientConfig = OidcProviderConfig["apps"][number];
export type BuiltinUserConfig = OidcProviderConfig["login"]["users"][number];
export type UpstreamIdpConfig = NonNullable<OidcProviderConfig["login"]["upstream"]>;
