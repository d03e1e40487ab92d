// The `id_token_hint` of a logout request (OpenID Connect RP-Initiated Logout 1.0 §2): an ID token
// this provider issued, naming the client that sends the person here and the person it signed in.
// The OP MUST validate that it was the issuer; it SHOULD accept an expired one from a client with
// a current or recent session, so expiry is tolerated for as long as a session can live
// (`session.lifetime`): an ID token older than any session it could belong to identifies nothing.
// Anything else that fails (another issuer's token, a forged signature, an access token or the
// device cookie, whose `typ` differ) is no hint at all (§4: treated as if not supplied).
import { decodeProtectedHeader, jwtVerify } from "jose";
import type { ProviderContext } from "../provider-context.js";
import { ID_TOKEN_TYPE } from "./jwt.js";

/** What a valid hint says. */
export interface IdTokenHint {
  sub: string;
  /** The client the ID token was issued to (`aud`, OIDC Core §2: the client id). */
  clientId: string;
  /** The login session it came from, when it names one. */
  sid?: string;
}

/** Longest hint read: an ID token with its released claims is far smaller. */
const MAX_HINT_CHARS = 8192;

/** The hint, when it is an ID token of this provider; null when it is anything else. */
export async function verifyIdTokenHint(provider: ProviderContext, token: string): Promise<IdTokenHint | null> {
  if (token.length > MAX_HINT_CHARS) return null;
  try {
    const { kid } = decodeProtectedHeader(token);
    const verifier = kid ? provider.keys.verifiers.get(kid) : undefined;
    if (!verifier) return null;
    const { payload } = await jwtVerify(token, verifier.key, {
      algorithms: [verifier.alg],
      typ: ID_TOKEN_TYPE,
      issuer: provider.issuer,
      requiredClaims: ["sub", "aud", "exp", "iat"],
      clockTolerance: Math.floor(provider.config.provider.session.lifetime / 1000),
    });
    // Our ID tokens have one audience, the client; `azp` names it again (OIDC Core §2).
    const audience = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (audience.length !== 1 || typeof audience[0] !== "string" || typeof payload.sub !== "string") return null;
    if (payload.azp !== undefined && payload.azp !== audience[0]) return null;
    return {
      sub: payload.sub,
      clientId: audience[0],
      ...(typeof payload.sid === "string" ? { sid: payload.sid } : {}),
    };
  } catch {
    return null;
  }
}
