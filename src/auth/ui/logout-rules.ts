// What a sign-out request may do (OpenID Connect RP-Initiated Logout 1.0; docs/auth/sign-in-sessions.md).
// Pure rules, no I/O:
// - The person is asked first unless the request carries a valid `id_token_hint` from their own
//   current session (§2: the OP MUST ask when no hint was provided or it does not belong to the
//   current session or user; §6: otherwise anyone could sign them out, a denial of service).
// - The browser is sent back to the client only to one of its registered
//   `post_logout_redirect_uris`, exactly (§3), and only when a valid hint identifies that client
//   (§3: without one the OP MUST NOT redirect unless it can otherwise confirm the target). A client
//   the operator did not configure (self-registered, or a metadata document) chose its URIs itself,
//   so it gets the redirect only when the hint also belongs to the session being ended: else a link
//   with the client's own ID token would make this provider redirect anyone there (an open
//   redirector, as RFC 9700 §4.11.2 warns for authorization errors).
import type { Client } from "../clients/client.js";
import type { IdTokenHint } from "../tokens/id-token-hint.js";
import type { LoginSession } from "./session.js";

export interface LogoutRequest {
  /** The verified hint; null when none was sent or it was not valid (§4: as if not supplied). */
  hint: IdTokenHint | null;
  /** The client the hint (or else `client_id`) names, when it is known here. */
  client: Client | null;
  postLogoutRedirectUri?: string;
  state?: string;
}

/** The hint was issued in this session, to its user (an ID token without `sid` by its user alone). */
export function hintBelongsTo(hint: IdTokenHint, session: Pick<LoginSession, "sub" | "sid">): boolean {
  return hint.sub === session.sub && (hint.sid === undefined || hint.sid === session.sid);
}

/** Whether the person must confirm before their session ends; never when there is none to end. */
export function needsConfirmation(
  hint: IdTokenHint | null,
  session: Pick<LoginSession, "sub" | "sid"> | null,
): boolean {
  return session !== null && !(hint && hintBelongsTo(hint, session));
}

/** Where to send the browser after the sign-out, with `state` (§3); null: show our own page. */
export function postLogoutRedirect(
  request: LogoutRequest,
  session: Pick<LoginSession, "sub" | "sid"> | null,
): string | null {
  const { hint, client, postLogoutRedirectUri: uri } = request;
  if (!uri || !hint || !client || client.clientId !== hint.clientId) return null;
  if (!(client.postLogoutRedirectUris ?? []).includes(uri)) return null;
  if (client.source !== "config" && !(session && hintBelongsTo(hint, session))) return null;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return null;
  }
  if (request.state !== undefined) url.searchParams.set("state", request.state);
  return url.href;
}
