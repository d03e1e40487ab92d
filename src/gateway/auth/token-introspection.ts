// Whether a token whose signature checked out is still active at its authorization server
// (RFC 7662), for servers configured with `tokenValidation.introspection`. A JWT alone cannot
// say it was revoked; without this a revoked agent token stays usable here until it expires.
//
// An "active" answer is trusted for `interval` per token and isolate (the bound on how long a
// revoked token can still be used), so a burst of requests costs one introspection. An
// "inactive" answer is kept until the token expires: revocation is final, and a revoked agent
// retrying must not turn into a stream of introspections. No answer refuses the request: a
// gateway that cannot tell whether a token was revoked does not guess that it was not, unless
// the operator chose a `staleIfError` window, in which an "active" answer past its interval
// still counts while the server cannot be asked.
//
// Under overload the server gets one question per token at a time (concurrent requests with the
// same token share it), and at most `maxConcurrent` questions per isolate; a request beyond that
// is refused at once with 503, so a slow authorization server sheds load instead of collecting
// requests that would each wait for `timeout`.
//
// A token found inactive, presented on an MCP session of its principal (and grant), ends that
// session (endSessionOfInactiveToken, revoked-session.ts, docs/auth/grants-and-admin.md "At the
// gateway"), in the background: the 401 does not wait for it.
//
// oauth4webapi builds the question (client_secret_basic) and checks the answer; the server's
// service binding, when it has one, is its customFetch.
import type { Context } from "hono";
import * as oauth from "oauth4webapi";
import { ExpiringCache } from "../../core/expiring-cache.js";
import { log } from "../../core/log.js";
import type { GatewayApp } from "../app-types.js";
import type { AuthorizationServerConfig, McpProviderConfig } from "../config-schema.js";
import type { GatewayEnv } from "../env.js";
import { fetcherFor, serverMetadata } from "./authorization-server.js";
import type { Principal } from "./principal.js";
import { tellSessionRevoked } from "./revoked-session.js";

export type Activity = "active" | "inactive";

/** The introspection endpoint could not be asked or did not answer usably. */
export class IntrospectionUnavailable extends Error {
  constructor(
    detail: string,
    /** Seconds after which asking again may succeed (Retry-After). */
    readonly retryAfter = 5,
  ) {
    super(`token introspection failed: ${detail}`);
    this.name = "IntrospectionUnavailable";
  }
}

/** An answer and until when it holds without asking again (`stale` reaches past that for `staleIfError`). */
interface Answer {
  activity: Activity;
  freshUntil: number;
}

/** Per server configuration: the answers, and the questions now in flight by token key. */
interface ServerState {
  answers: ExpiringCache<Answer>;
  inFlight: Map<string, Promise<Activity>>;
}

/**
 * Answers by token, per server configuration, each until it stops being trusted: the same
 * bounded, expiring memory that keeps verified tokens. A day at most, longer than any access
 * token lives, so only the answer's own end matters.
 */
const states = new WeakMap<AuthorizationServerConfig, ServerState>();

function stateOf(server: AuthorizationServerConfig): ServerState {
  let state = states.get(server);
  if (!state)
    states.set(server, (state = { answers: new ExpiringCache<Answer>(10_000, 24 * 3_600_000), inFlight: new Map() }));
  return state;
}

export interface IntrospectionTarget {
  token: string;
  /** The token's `jti`, when it has one: a shorter key than the token itself. */
  jti?: string;
  /** The token's `exp`, in seconds since the epoch. */
  expiresAt: number;
}

export async function tokenActivity(
  env: GatewayEnv,
  provider: McpProviderConfig,
  secrets: Record<string, string>,
  server: AuthorizationServerConfig,
  target: IntrospectionTarget,
): Promise<Activity> {
  const introspection = server.tokenValidation.introspection;
  if (!introspection) return "active";
  const { answers, inFlight } = stateOf(server);
  const key = target.jti !== undefined ? `jti:${target.jti}` : target.token;
  const now = Date.now();
  const known = answers.get(key, now);
  if (known && now < known.freshUntil) return known.activity;

  let question = inFlight.get(key);
  if (!question) {
    if (inFlight.size >= introspection.maxConcurrent) {
      return staleOr(
        known,
        server,
        new IntrospectionUnavailable(`${inFlight.size} introspections already in flight (maxConcurrent)`, 1),
      );
    }
    question = ask(env, provider, secrets, server, target).finally(() => inFlight.delete(key));
    inFlight.set(key, question);
  }
  let activity: Activity;
  try {
    activity = await question;
  } catch (err) {
    if (err instanceof IntrospectionUnavailable) return staleOr(known, server, err);
    throw err;
  }
  const answeredAt = Date.now();
  // An "active" answer is kept past its interval only as far as the stale window reaches.
  const freshUntil = activity === "active" ? answeredAt + introspection.interval : target.expiresAt * 1000;
  answers.set(
    key,
    { activity, freshUntil },
    activity === "active" ? freshUntil + introspection.staleIfError : freshUntil,
    answeredAt,
  );
  return activity;
}

/**
 * A revoked token was presented on the session `sessionId` names: that session is told, in the
 * background, to end if it is the token's principal's and grant's (revoked-session.ts).
 */
export function endSessionOfInactiveToken(
  c: Context<GatewayApp>,
  sessionId: string | undefined,
  principal: Principal,
): void {
  const sessions = c.env.MCP_SESSION;
  tellSessionRevoked(
    sessionId,
    principal,
    (id) => sessions.get(sessions.idFromName(id)).endRevoked(principal),
    (promise) => {
      try {
        c.executionCtx.waitUntil(promise);
      } catch {
        // No execution context (an in-process test): the promise runs on by itself.
      }
    },
  );
}

/** Within `staleIfError`, the last "active" answer stands in for the one that could not be had; else the failure. */
function staleOr(
  known: Answer | undefined,
  server: AuthorizationServerConfig,
  failure: IntrospectionUnavailable,
): Activity {
  // `known` is only still held while inside its stale window (see `answers.set` above).
  if (known?.activity !== "active" || !server.tokenValidation.introspection?.staleIfError) throw failure;
  log("warn", "auth.introspection_stale_used", {
    issuer: server.issuer,
    error: failure.message,
    stale_ms: Date.now() - known.freshUntil,
  });
  return "active";
}

async function ask(
  env: GatewayEnv,
  provider: McpProviderConfig,
  secrets: Record<string, string>,
  server: AuthorizationServerConfig,
  target: IntrospectionTarget,
): Promise<Activity> {
  const introspection = server.tokenValidation.introspection!;
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
  if (!endpoint)
    throw new IntrospectionUnavailable("the authorization server's metadata names no introspection_endpoint");
  const as: oauth.AuthorizationServer = { issuer: server.issuer, introspection_endpoint: endpoint };
  const client: oauth.Client = { client_id: idp.clientId };
  let response: Response;
  try {
    // ClientSecretBasic form-encodes id and secret before Basic encoding (RFC 6749 §2.3.1).
    response = await oauth.introspectionRequest(as, client, oauth.ClientSecretBasic(secret), target.token, {
      [oauth.customFetch]: fetcher,
      // The configuration decides the scheme: http is for local stacks and service bindings.
      [oauth.allowInsecureRequests]: true,
      additionalParameters: { token_type_hint: "access_token" },
      signal: AbortSignal.timeout(introspection.timeout),
    });
  } catch (err) {
    throw new IntrospectionUnavailable(err instanceof Error ? err.message : "error");
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new IntrospectionUnavailable(`the introspection endpoint answered ${response.status}`);
  }
  try {
    return (await oauth.processIntrospectionResponse(as, client, response)).active ? "active" : "inactive";
  } catch (err) {
    // RFC 7662 §2.2: `active` is REQUIRED; an answer without a boolean `active` is not active.
    if (err instanceof oauth.OperationProcessingError && err.code === oauth.INVALID_RESPONSE) return "inactive";
    throw new IntrospectionUnavailable(err instanceof Error ? err.message : "error");
  }
}
