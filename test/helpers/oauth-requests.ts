// Plain-HTTP requests to the auth tier's OAuth endpoints, for the hostile cases a client library
// would refuse to send; well-behaved requests go through oauth4webapi (`discover`).
import * as oauth from "oauth4webapi";
import type { TestClient } from "./auth-config.js";
import type { RunningWorker } from "./workers.js";

export type Params = Record<string, string | string[]>;

/** The authorization server metadata, as oauth4webapi discovers it. */
export async function discover(worker: RunningWorker): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(worker.url);
  return oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }),
  );
}

/** RFC 6749 §2.3.1: id and secret form-urlencoded, then Basic. */
export function basic(id: string, secret: string): string {
  return `Basic ${btoa(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`)}`;
}

export const basicFor = (client: TestClient) => basic(client.clientId, client.secret);

/** A form body; array values repeat the parameter (RFC 8707 `resource`). */
export function formBody(params: Params): URLSearchParams {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) for (const v of [value].flat()) body.append(name, v);
  return body;
}

/** POSTs a form to `path`, optionally as `client` (client_secret_basic). */
export function postForm(
  worker: RunningWorker,
  path: string,
  params: Params,
  client?: TestClient,
  headers: Record<string, string> = {},
): Promise<Response> {
  return worker.fetch(path, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      ...(client ? { Authorization: basicFor(client) } : {}),
      ...headers,
    },
    body: formBody(params).toString(),
  });
}

/** The RFC 6749 §5.2 error body of `res`, with its status and challenge. */
export async function oauthError(res: Response): Promise<{ status: number; error: string; challenge: string | null }> {
  const body = (await res.json()) as { error: string };
  return { status: res.status, error: body.error, challenge: res.headers.get("WWW-Authenticate") };
}
