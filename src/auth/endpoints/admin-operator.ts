// Who is calling the admin API: an operator named in `oidcProvider.admin.operators`, proved by
// the bearer token held in that operator's secret (docs/auth/grants-and-admin.md). Never a user's
// sign-in or an OAuth token: the tier's own tokens are not admin credentials, so a stolen user or
// agent token cannot reach these routes. Every operator's token is compared, in constant time,
// so the answer's timing says nothing about which one nearly matched. The challenge follows
// RFC 6750 §3 (a Bearer challenge; `invalid_token` only when a credential was presented).
import type { MiddlewareHandler } from "hono";
import { timingSafeEqualStrings } from "../../core/encoding.js";
import { OAuthError } from "../../core/errors.js";
import { log } from "../../core/log.js";
import type { AuthApp } from "../app-types.js";
import type { ProviderContext } from "../provider-context.js";

/** RFC 6750 §2.1: `Bearer` and a b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

export type AdminApp = AuthApp & { Variables: AuthApp["Variables"] & { operator: string } };

function unauthorized(presented: boolean): OAuthError {
  const description = presented ? "the admin credential is not valid" : "an admin bearer credential is required";
  const challenge = presented
    ? `Bearer realm="admin", error="invalid_token", error_description="${description}"`
    : 'Bearer realm="admin"';
  return new OAuthError("invalid_token", description, 401, { "WWW-Authenticate": challenge });
}

/** The operator whose token `presented` is, or null. */
async function operatorOf({ config }: ProviderContext, presented: string): Promise<string | null> {
  const matches = await Promise.all(
    config.provider.admin.operators.map(async (operator) =>
      (await timingSafeEqualStrings(presented, config.secrets[operator.token.env] ?? "")) ? operator.name : null,
    ),
  );
  return matches.find((name) => name !== null) ?? null;
}

/** Off (404, as any unknown path) unless operators are configured; else only an operator passes. */
export const requireOperator: MiddlewareHandler<AdminApp> = async (c, next) => {
  const { config } = c.get("provider");
  if (config.provider.admin.operators.length === 0) throw new OAuthError("invalid_request", "no such endpoint", 404);
  const header = c.req.header("Authorization");
  const match = header ? BEARER.exec(header) : null;
  const operator = match ? await operatorOf(c.get("provider"), match[1]!) : null;
  if (!operator) {
    log("warn", "admin.unauthorized", { path: new URL(c.req.url).pathname, presented: header !== undefined });
    throw unauthorized(header !== undefined);
  }
  c.set("operator", operator);
  await next();
};
