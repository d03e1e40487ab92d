// Access tokens made in the test process: genuine ones, signed with the run's SIGNING_KEYS exactly
// as mintAccessToken signs them (so a test needs no grant to obtain one), and hostile ones.
import { createPublicKey, randomBytes } from "node:crypto";
import { Redis } from "@upstash/redis/cloudflare";
import { decodeJwt, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from "jose";
import { inject } from "vitest";
import { Store } from "../../src/auth/store/store.js";
import { sharedRedis } from "./workers.js";

export const nowSec = () => Math.floor(Date.now() / 1000);

/** The run's first signing key (the one the workers sign with) as a private JWK. */
export function signingJwk(): JWK & { kid: string; alg: string } {
  const { keys } = JSON.parse(inject("signingKeys")) as {
    keys: (JWK & { kid: string; alg: string; activeFrom?: number })[];
  };
  const { activeFrom: _ignored, ...jwk } = keys[0]!;
  return jwk;
}

export interface AccessTokenFields {
  sub: string;
  client_id: string;
  aud: string | string[];
  scope?: string;
  act?: Record<string, unknown>;
  fam?: string;
  /** Lifetime from now, in seconds (default 300). */
  ttlSec?: number;
  /** Any other claim, or a replacement for one set above (iss, iat, nbf, exp, jti...). */
  extra?: JWTPayload;
}

/** The claims mintAccessToken would put in an access token issued by `issuer` (RFC 9068). */
export function accessTokenClaims(issuer: string, fields: AccessTokenFields): JWTPayload {
  const iat = nowSec();
  const { ttlSec = 300, extra = {}, ...claims } = fields;
  return {
    iss: issuer,
    iat,
    nbf: iat,
    exp: iat + ttlSec,
    jti: randomBytes(16).toString("base64url"),
    ...claims,
    ...extra,
  };
}

/**
 * An access token signed with the workers' own key: what the provider itself would issue, under
 * the shared store's epoch (the `ep` claim) unless `extra` names another.
 */
export async function signAccessToken(
  issuer: string,
  fields: AccessTokenFields,
  header: Record<string, unknown> = {},
): Promise<string> {
  const jwk = signingJwk();
  const key = await importJWK(jwk, jwk.alg);
  const ep = await sharedStore().currentEpoch();
  return new SignJWT(accessTokenClaims(issuer, { ...fields, extra: { ep, ...fields.extra } }))
    .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: "at+jwt", ...header })
    .sign(key);
}

/** Signed by a key the provider never had, under `kid` (default a fresh one). */
export async function signWithUnknownKey(
  issuer: string,
  fields: AccessTokenFields,
  kid = "unknown-key",
): Promise<string> {
  const { privateKey } = await generateKeyPair("ES256");
  return new SignJWT(accessTokenClaims(issuer, fields))
    .setProtectedHeader({ alg: "ES256", kid, typ: "at+jwt" })
    .sign(privateKey);
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** An unsecured JWT (RFC 7519 §6): `alg: none`, empty signature. */
export function unsecuredAccessToken(issuer: string, fields: AccessTokenFields): string {
  return `${b64url({ alg: "none", kid: signingJwk().kid, typ: "at+jwt" })}.${b64url(accessTokenClaims(issuer, fields))}.`;
}

/** The key-confusion attack: HS256 with the provider's public key (PEM) as the HMAC secret. */
export async function hmacWithPublicKey(issuer: string, fields: AccessTokenFields): Promise<string> {
  const { d: _private, ...publicJwk } = signingJwk();
  const pem = createPublicKey({ key: publicJwk as import("node:crypto").JsonWebKey, format: "jwk" }).export({
    type: "spki",
    format: "pem",
  });
  return new SignJWT(accessTokenClaims(issuer, fields))
    .setProtectedHeader({ alg: "HS256", kid: publicJwk.kid, typ: "at+jwt" })
    .sign(new TextEncoder().encode(String(pem)));
}

/** The auth tier's own store over the shared Redis bridge, e.g. to revoke a token as /revoke would. */
export function sharedStore(): Store {
  const { url, token } = sharedRedis();
  return new Store(new Redis({ url, token, automaticDeserialization: false, enableTelemetry: false }));
}

/** Revokes an access token by its `jti` until it expires (RFC 7009), as the provider records it. */
export async function revokeAccessToken(token: string): Promise<void> {
  const { jti, exp } = decodeJwt(token);
  await sharedStore().revokeJti(jti!, exp!);
}
