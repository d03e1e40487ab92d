import { z } from "zod";
import { observabilitySchema } from "../core/telemetry/config-schema.js";
import { duration, httpUrl } from "../core/config-schema.js";
import { isLoopbackHost } from "./redirect-uri.js";

const cookieName = z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "expected a cookie name (RFC 6265 token)");
const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, "expected a scope token (RFC 6749 §3.3)");
/** Secrets are named here and read from the environment (Wrangler secrets), never written here. */
const secretRef = z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "expected an environment variable name") }).strict();

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
    return url.origin === value && (url.protocol === "http:" || url.protocol === "https:") && isLoopbackHost(url.hostname);
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
    name: z.string().min(1),
    clientId: z.string().min(1).max(255),
    /** Confidential clients name the secret's environment variable; public clients use `none`. */
    clientSecret: secretRef.optional(),
    tokenEndpointAuthMethod: z.enum(CLIENT_AUTH_METHODS).default("client_secret_basic"),
    /** For private_key_jwt: the client's public keys. */
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional(),
    redirectUris: z.array(z.string()).default([]),
    grantTypes: z.array(grantType).default([GRANT_TYPES.authorizationCode, GRANT_TYPES.refreshToken]),
    /**
     * Provider scopes (from `oidcProvider.scopes`) the client may request: exactly these, an empty
     * list meaning none. The OIDC scopes (openid, profile, email, offline_access) need not be
     * listed for a client of the authorization_code grant: they ask about the user, who consents.
     */
    scopes: z.array(scopeToken).default([]),
    /**
     * May introspect tokens (RFC 7662) and be told their claims: the gateway and other resource
     * servers. Every other client is answered `{"active": false}` (RFC 7662 §2.2, §4).
     */
    introspection: z.boolean().default(false),
    /** Audiences / resources this client may request tokens for (RFC 8707, RFC 8693 §2.1). */
    allowedAudiences: z.array(z.string().min(1)).default([]),
    /** Skip the consent page (first-party clients only). */
    skipConsent: z.boolean().default(false),
    /** RFC 8693 token exchange, for clients granted urn:ietf:params:oauth:grant-type:token-exchange. */
    tokenExchange: z
      .object({
        /** May request `exchange_type=impersonation` (a token without `act`); default delegation only. */
        impersonation: z.boolean().default(false),
        /**
         * Audiences a subject or actor token must have been issued for (one of) to be exchanged by
         * this client, i.e. tokens presented to it; default: the provider-wide `resources`.
         */
        subjectAudiences: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((client, ctx) => {
    const needsSecret = client.tokenEndpointAuthMethod === "client_secret_basic" || client.tokenEndpointAuthMethod === "client_secret_post";
    if (needsSecret && !client.clientSecret) {
      ctx.addIssue({ code: "custom", path: ["clientSecret"], message: `required for ${client.tokenEndpointAuthMethod}: { env: NAME_OF_SECRET }` });
    }
    if (client.tokenEndpointAuthMethod === "private_key_jwt" && !client.jwks) {
      ctx.addIssue({ code: "custom", path: ["jwks"], message: "required for private_key_jwt" });
    }
  });

/** A built-in user for local development: salted PBKDF2 hash from `npm run hash-password`. */
const builtinUser = z
  .object({
    username: z.string().min(1),
    /** pbkdf2-sha256$<iterations>$<salt base64url>$<hash base64url> */
    passwordHash: z.string().regex(/^pbkdf2-sha256\$\d+\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/, "expected pbkdf2-sha256$<iterations>$<salt>$<hash>"),
    sub: z.string().min(1).optional(),
    claims: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

const upstreamIdp = z
  .object({
    issuer: httpUrl,
    clientId: z.string().min(1),
    clientSecret: secretRef,
    scopes: z.array(scopeToken).default(["openid", "profile", "email"]),
    /** Label of the login button. */
    name: z.string().default("Single sign-on"),
  })
  .strict();

/**
 * Encryption at rest of the values kept in Redis (README "Redis encryption at rest"): AES-256-GCM,
 * the key id inside every value; the active key encrypts, every listed key decrypts.
 */
const redisEncryption = z
  .object({
    /** The keys, each 32 random bytes base64url in a secret (`npm run keys -- --redis-encryption`). */
    keys: z
      .array(
        z
          .object({
            /** Written into every value it encrypts; never reuse an id for other key material. */
            id: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, "expected a key id of 1 to 32 characters [A-Za-z0-9_-]"),
            secret: secretRef,
          })
          .strict(),
      )
      .min(1, "at least one key is required"),
    /** The id of the key that encrypts new values; default: the first key. */
    activeKey: z.string().optional(),
    /**
     * Read plain-JSON values written before encryption was switched on, while migrating an existing
     * deployment; default false: such a value is absent (and logged).
     */
    acceptPlaintext: z.boolean().default(false),
  })
  .strict()
  .superRefine((encryption, ctx) => {
    const ids = encryption.keys.map((k) => k.id);
    if (new Set(ids).size !== ids.length) ctx.addIssue({ code: "custom", path: ["keys"], message: "every key needs a distinct id" });
    if (encryption.activeKey !== undefined && !ids.includes(encryption.activeKey)) {
      ctx.addIssue({ code: "custom", path: ["activeKey"], message: "must be the id of one of the keys" });
    }
  });

/** `oidcProvider.cache.redis`: an object; the string `upstash` (the only former value) means `{}`. */
const redisSchema = z.preprocess(
  (value) => (value === "upstash" ? {} : value),
  z
    .object({
      /** Encrypt the values kept in Redis; absent = plain JSON (keys of codes and refresh tokens are hashes either way). */
      encryption: redisEncryption.optional(),
    })
    .strict(),
).prefault({});

export const oidcProviderSchema = z
  .object({
    discovery: z.object({ issuer: httpUrl }).strict(),
    /** Signing keys come from the SIGNING_KEYS secret (a JWK set); this names the algorithm. */
    jwks: z
      .array(z.object({ algorithm: z.enum(["ES256", "EdDSA"]).default("ES256") }).strict())
      .default([{ algorithm: "ES256" }]),
    tokens: z
      .object({
        accessTokenTTL: duration("1h"),
        idTokenTTL: duration("1h"),
        refreshTokenTTL: duration("720h"),
        authorizationCodeTTL: duration("60s"),
        /**
         * How long after a rotation the refresh token it replaced, presented again by the same
         * client, gets that rotation's refresh token back (with a new access token) instead of
         * revoking the grant as a reuse (OAuth 2.1 §4.3.1): a client whose answer was lost in a
         * stall retries safely. Within it a stolen, just-rotated token yields the successor rather
         * than revoking; "0s" turns the window off. README "Store faults".
         */
        refreshReuseGrace: duration("30s"),
        exchange: z
          .object({
            /** Lifetime of an exchanged token when the caller asks for none (5 s: a per-tool token lives about as long as one call). */
            defaultTTL: duration("5s"),
            /** Upper bound on any requested lifetime. */
            maxTTL: duration("5m"),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    session: z
      .object({
        cookieName: cookieName.default("maverics_session"),
        lifetime: duration("8h"),
        idleTimeout: duration("1h"),
      })
      .strict()
      .prefault({}),
    /**
     * Abuse limits, counted in Redis per fixed window: dynamic client registrations per client
     * address (tier-wide when no address is known), and failed logins as rate-limit.ts describes.
     */
    rateLimits: z
      .object({
        registration: z.object({ limit: z.number().int().positive().default(30), window: duration("1m") }).strict().prefault({}),
        loginFailures: z
          .object({
            /** Failures from unknown browsers per (username, client address), or per username when no address is known. */
            limit: z.number().int().positive().default(10),
            window: duration("15m"),
            /** Failures from unknown browsers per username across all addresses (when addresses are known). */
            usernameLimit: z.number().int().positive().default(100),
            /** Failures from one known browser (a device cookie of this user), counted apart from everyone else's. */
            deviceLimit: z.number().int().positive().default(5),
            /** How long a device cookie (issued at each sign-in with a password) keeps a browser known. */
            deviceLifetime: duration("720h"),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /**
     * Where the client's address comes from, for the abuse limits. Name a header only when the
     * platform in front of the tier sets it and overwrites what the client sent (on Cloudflare
     * Workers: `CF-Connecting-IP`); any other header is the client's to choose. null (default):
     * no address is known, and the limits key on what the client cannot vary.
     */
    clientAddress: z
      .object({
        header: z
          .string()
          .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, "expected a header name")
          .nullable()
          .default(null),
      })
      .strict()
      .prefault({}),
    cache: z
      .object({
        /** The state store: Upstash-protocol Redis (the former string form `upstash` still reads). */
        redis: redisSchema,
        /** How long /status waits for Redis before calling it unreachable. */
        timeout: duration("1s"),
        /**
         * Deadline of every other store operation, retries included: past it the request answers
         * 503 temporarily_unavailable with Retry-After instead of waiting for the store.
         */
        operationTimeout: duration("2s"),
      })
      .strict()
      .prefault({}),
    /**
     * Protected resources (RFC 8707 resource indicators / token audiences) this provider issues
     * tokens for, e.g. the gateway's MCP endpoint. Any client may ask for these; a client's
     * `allowedAudiences` add to them for that client only.
     */
    resources: z.array(z.string().min(1)).default([]),
    /** Scopes this provider knows, besides the OIDC ones (openid, profile, email, offline_access). */
    scopes: z.array(scopeToken).default([]),
    login: z
      .object({
        users: z.array(builtinUser).default([]),
        upstream: upstreamIdp.optional(),
      })
      .strict()
      .prefault({}),
    registration: z
      .object({
        /** RFC 7591 dynamic registration of public clients (MCP clients). */
        enabled: z.boolean().default(true),
        /** Lifetime of a registration record in Redis. */
        ttl: duration("720h"),
        /**
         * Provider scopes a self-registered or metadata-document client may request (OIDC scopes
         * are always allowed to it); what its registration or document asks for is capped by
         * this. Default none: list only scopes that are safe for any client a user consents to.
         */
        defaultScopes: z.array(scopeToken).default([]),
        /**
         * Machine clients (client_credentials) by registration or metadata document: tokens
         * with no user behind them, for anyone who registers. Off by default; turned on, they
         * get at most `scopes` for at most `resources`.
         */
        machineClients: z
          .object({
            /** Accept client_credentials from registered and metadata-document clients. */
            enabled: z.boolean().default(false),
            /** Provider scopes such a client may obtain (empty: none). */
            scopes: z.array(scopeToken).default([]),
            /** Resources (RFC 8707) or audiences such a client may obtain tokens for (empty: none). */
            resources: z.array(z.string().min(1)).default([]),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    clientIdMetadataDocuments: z
      .object({
        enabled: z.boolean().default(true),
        fetchTimeout: duration("3s"),
        maxBytes: z.number().int().positive().default(5 * 1024),
        cacheTTL: duration("5m"),
        /**
         * Loopback origins (`http://127.0.0.1:<port>`, `http://localhost:<port>`, `http://[::1]:<port>`)
         * whose client_id URLs may be fetched, http included: a local agent's own metadata server
         * (local development and tests only). Exact origin match; every other loopback URL stays
         * refused, so a client_id cannot make the tier fetch another local port (Redis's included).
         */
        allowedLoopbackOrigins: z.array(loopbackOrigin).default([]),
      })
      .strict()
      .prefault({}),
    apps: z.array(staticClient).default([]),
    /** Logs, traces and metrics (README "Observability"). */
    observability: observabilitySchema,
  })
  .strict()
  .superRefine((provider, ctx) => {
    // A misspelt scope here would silently grant nothing; say so instead.
    const known = new Set([...OIDC_SCOPE_NAMES, ...provider.scopes]);
    const check = (path: (string | number)[], scopes: string[]) =>
      scopes.forEach((scope, i) => {
        if (!known.has(scope)) ctx.addIssue({ code: "custom", path: [...path, i], message: `${scope} is not in oidcProvider.scopes` });
      });
    check(["registration", "defaultScopes"], provider.registration.defaultScopes);
    check(["registration", "machineClients", "scopes"], provider.registration.machineClients.scopes);
  });

export const authConfigSchema = z.object({ oidcProvider: oidcProviderSchema }).strict();

export const redisEnvSchema = z.object({
  UPSTASH_REDIS_REST_URL: httpUrl,
  UPSTASH_REDIS_REST_TOKEN: z.string({ message: "required (wrangler secret put UPSTASH_REDIS_REST_TOKEN)" }).min(1, "must not be empty"),
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
