// GET/POST /userinfo (OIDC Core §5.3): claims about the user an access token was issued for,
// released by the token's scopes (OIDC Core §5.4). A bearer-protected resource, so its errors
// follow RFC 6750 §3 and carry a Bearer challenge, never the token endpoint's Basic one.
import type { Context } from "hono";
import { OAuthError } from "../../core/errors.js";
import type { AuthApp } from "../app-types.js";
import { readForm } from "../form.js";
import { releasedClaims } from "../tokens/claims.js";
import { verifyAccessToken } from "../tokens/jwt.js";

/** RFC 6750 §2.1: `Bearer` and a b64token. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** RFC 6750 §3: the challenge; an error code only when the request carried a token. */
function bearerError(error: string | null, description: string, status: 400 | 401 | 403, extra = ""): OAuthError {
  const quoted = description.replace(/["\\]/g, "");
  const challenge = error ? `Bearer error="${error}", error_description="${quoted}"${extra}` : "Bearer";
  return new OAuthError(error ?? "invalid_token", description, status, { "WWW-Authenticate": challenge });
}

/** The presented access token: in the Authorization header, or in a POST form body (RFC 6750 §2.2). */
async function presentedToken(c: Context<AuthApp>): Promise<string> {
  // OAuth 2.1 §5.2: tokens in the URI leak into logs and Referer headers; refuse them.
  if (new URL(c.req.url).searchParams.has("access_token")) {
    throw bearerError("invalid_request", "access tokens are not accepted in the query string", 400);
  }
  const header = c.req.header("Authorization");
  const fromHeader = header && /^bearer(\s|$)/i.test(header) ? header : undefined;
  const isForm =
    c.req.method === "POST" &&
    c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase() === "application/x-www-form-urlencoded";
  const fromBody = isForm ? (await readForm(c)).get("access_token") : undefined;
  // RFC 6750 §2: a client MUST NOT use more than one method to send the token.
  if (fromHeader && fromBody)
    throw bearerError("invalid_request", "send the access token once, in the header or the body", 400);
  if (fromBody) return fromBody;
  if (!fromHeader) throw bearerError(null, "a bearer access token is required", 401);
  const match = BEARER.exec(fromHeader);
  if (!match)
    throw bearerError("invalid_request", "the Authorization header is not a well-formed Bearer credential", 400);
  return match[1]!;
}

export async function getUserinfo(c: Context<AuthApp>): Promise<Response> {
  const provider = c.get("provider");
  const token = await presentedToken(c);
  let claims;
  // Any audience: the openid scope itself is the grant to call this endpoint, and tokens for a
  // protected resource (e.g. an MCP server) carry it when the user signed in with OIDC.
  try {
    claims = await verifyAccessToken(provider, token);
  } catch (err) {
    if (err instanceof OAuthError) throw bearerError("invalid_token", err.description, 401);
    throw err;
  }
  const scopes = claims.scope?.split(" ") ?? [];
  // OIDC Core §5.3: the UserInfo endpoint serves tokens granted with the openid scope.
  if (!scopes.includes("openid")) {
    throw bearerError(
      "insufficient_scope",
      "the access token was not granted the openid scope",
      403,
      ', scope="openid"',
    );
  }
  const user = (await provider.store.getUserClaims(claims.sub)) ?? {};
  // OIDC Core §5.3.2: `sub` is always present and is the token's subject.
  return c.json({ ...releasedClaims(user, scopes), sub: claims.sub }, 200, {
    "Cache-Control": "no-store",
    Pragma: "no-cache",
  });
}
