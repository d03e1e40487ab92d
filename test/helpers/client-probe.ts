// Whether the provider knows a client, and can serve it, seen from outside. The token endpoint
// authenticates the client before it looks at the code, so a bogus code fails with 401
// invalid_client when the client is unknown and 400 invalid_grant when it is known.
import * as oauth from "oauth4webapi";
import { ALICE, GATEWAY_RESOURCE } from "./auth-config.js";
import { authorize } from "./login-flow.js";
import { postForm, type Params } from "./oauth-requests.js";
import type { RunningWorker } from "./workers.js";

export const KNOWN_CLIENT = { status: 400, error: "invalid_grant" };
export const UNKNOWN_CLIENT = { status: 401, error: "invalid_client" };

/** Status and error of an authorization_code request by `clientId` with a code that does not exist. */
export async function tokenEndpointAnswer(
  worker: RunningWorker,
  clientId: string,
  redirectUri: string,
  extra: Params = {},
): Promise<{ status: number; error: string }> {
  const res = await postForm(worker, "/token", {
    grant_type: "authorization_code",
    client_id: clientId,
    code: "no-such-code",
    redirect_uri: redirectUri,
    code_verifier: oauth.generateRandomCodeVerifier(),
    ...extra,
  });
  return { status: res.status, error: ((await res.json()) as { error: string }).error };
}

/**
 * The whole authorization code flow for the public client `clientId`, alice logging in and
 * consenting: the tokens it ends with, for `scope` at the gateway resource.
 */
export async function publicClientTokens(
  auth: RunningWorker,
  as: oauth.AuthorizationServer,
  clientId: string,
  redirectUri: string,
  scope: string,
) {
  const client: oauth.Client = { client_id: clientId };
  const verifier = oauth.generateRandomCodeVerifier();
  const { redirect } = await authorize(
    auth,
    {
      client_id: clientId,
      redirect_uri: redirectUri,
      response_type: "code",
      scope,
      resource: GATEWAY_RESOURCE,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state: "st",
      nonce: "n",
    },
    ALICE,
  );
  const params = oauth.validateAuthResponse(as, client, redirect, "st");
  const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, {
    [oauth.allowInsecureRequests]: true,
  });
  return oauth.processAuthorizationCodeResponse(as, client, res, { expectedNonce: "n" });
}
