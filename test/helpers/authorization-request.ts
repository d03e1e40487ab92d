// Authorization requests as a client sends them: code flow, PKCE S256 (RFC 7636), a resource
// indicator for the gateway (RFC 8707), state and nonce.
import * as oauth from "oauth4webapi";
import { GATEWAY_RESOURCE } from "./auth-config.js";

export async function pkce(): Promise<{ verifier: string; challenge: string }> {
  const verifier = oauth.generateRandomCodeVerifier();
  return { verifier, challenge: await oauth.calculatePKCECodeChallenge(verifier) };
}

/** /authorize parameters for `clientId` (state "st-1", nonce "n-1"); `extra` overrides any. */
export function authorizationParams(
  clientId: string,
  redirectUri: string,
  challenge: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    client_id: clientId,
    redirect_uri: redirectUri,
    response_type: "code",
    scope: "openid profile email tools:read",
    resource: GATEWAY_RESOURCE,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "st-1",
    nonce: "n-1",
    ...extra,
  };
}
