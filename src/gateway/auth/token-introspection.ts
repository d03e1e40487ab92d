// Whether a token whose signature checked out is still active at its authorization server
// (RFC 7662), for servers configured with `tokenValidation.introspection`. A JWT alone cannot
// say it was revoked; without this a revoked agent token stays usable here until it expires.
//
// An "active" answer is trusted for `interval` per token and isolate (the bound on how long a
// revoked token can still be used), so a burst of requests costs one introspection. An
// "inactive" answer is kept until the token expires: revocation is final, and a revoked agent
// retrying must not turn into a stream of introspections. No answer refuses the request: a
// gateway that cannot tell whether a token was revoked does not guess that it was not.
import { VerifiedTokens } from "../../core/verified-tokens.js";
import type { GatewayEnv } from "../config.js";
import type { AuthorizationServerConfig, McpProviderConfig } from "../config-schema.js";
import { fetcherFor, serverMetadata } from "./authorization-server.js";

export type Activity = "active" | "inactive";

/** The introspection endpoint could not be asked or did not answer usably. */
export class IntrospectionUnavailable extends Error {
  constructor(detail: string) {
    super(`token introspection failed: ${detail}`);
    this.name = "IntrospectionUnavailable";
  }
}

/**
 * Answers by token, per server configuration, each until it stops being trusted: the same
 * bounded, expiring memory that keeps verified tokens. A day at most, longer than any access
 * token lives, so only the answer's own end matters.
 */
const answers = new WeakMap<AuthorizationServerConfig, VerifiedTokens<Activity>>();

function remembered(server: AuthorizationServerConfig): VerifiedTokens<Activity> {
  let known = answers.get(server);
  if (!known) answers.set(server, (known = new VerifiedTokens<Activity>(10_000, 24 * 3_600_000)));
  return known;
}

export interface IntrospectionTarget {
  token: string;
  /** The token's `jti`, when it has one: a shorter key than the token itself. */
  jti?: string;
  /** The token's `exp`, in seconds since the epoch. */
  expiresAt: number;
}

export async function tokenActivity(env: GatewayEnv, provider: McpProviderConfig, secrets: Record<string, string>, server: AuthorizationServerConfig, target: IntrospectionTarget): Promise<Activity> {
  const introspection = server.tokenValidation.introspection;
  if (!introspection) return "active";
  const known = remembered(server);
  const key = target.jti !== undefined ? `jti:${target.jti}` : target.token;
  const now = Date.now();
  const answered = known.get(key, now);
  if (answered) return answered;

  const idp = provider.identityProviders[introspection.idp]!;
  const secret = secrets[idp.clientSecret.env]!;
  let fetcher: typeof fetch;
  let endpoint: string;
  try {
    fetcher = fetcherFor(env, server);
    endpoint = introspection.endpoint ?? (await serverMetadata(fetcher, server)).introspection_endpoint ?? "";
  } catch (err) {
    throw new IntrospectionUnavailable(err instanceof Error ? err.message : "no metadata");
  }
  if (!endpoint) throw new IntrospectionUnavailable("the authorization server's metadata names no introspection_endpoint");
  let answer: { active?: unknown };
  try {
    const res = await fetcher(endpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        Accept: "application/json",
        // RFC 6749 §2.3.1: form-encode, then Basic.
        Authorization: `Basic ${btoa(`${encodeURIComponent(idp.clientId)}:${encodeURIComponent(secret)}`)}`,
      },
      body: new URLSearchParams({ token: target.token, token_type_hint: "access_token" }),
      signal: AbortSignal.timeout(introspection.timeout),
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`the introspection endpoint answered ${res.status}`);
    }
    answer = (await res.json()) as { active?: unknown };
  } catch (err) {
    throw new IntrospectionUnavailable(err instanceof Error ? err.message : "error");
  }
  // RFC 7662 §2.2: `active` is REQUIRED; anything but true is not active.
  const activity: Activity = answer.active === true ? "active" : "inactive";
  known.set(key, activity, activity === "active" ? now + introspection.interval : target.expiresAt * 1000, now);
  return activity;
}
