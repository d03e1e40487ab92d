// Remembered consent (docs/auth/connected-agents.md): the rules deciding whether a person's
// earlier "remember this decision" on the consent page answers a new authorization request, so
// the consent page is skipped. Pure: the store keeps and voids the records (store.ts
// listConsents), this decides what one covers.
//
// - Only a client someone vouches for is remembered: one the operator configured, or one
//   identified by a client ID metadata document (its host is verified). A self-registered client
//   (RFC 7591) is anyone's, names itself, and registers its own redirect URIs: it always asks.
// - A remembered consent covers a request of the same client, to the same redirect URI (a
//   metadata document may later list another one), for no more scopes and no more resources
//   (RFC 8707) than were consented to. A request naming no resource asks for tokens usable at any
//   of the tier's resources, so only a consent that named none covers it.
// - `prompt=consent` always asks (OpenID Connect Core 1.0 §3.1.2.1).
import type { Client } from "../clients/client.js";
import type { RememberedConsent } from "../store/store.js";

/** What an authorization request asks of the person, as the consent page shows it. */
export interface ConsentRequest {
  clientId: string;
  redirectUri: string;
  scope: string;
  resource: string[];
}

/** Whether the consent page may offer to remember a decision for `client`. */
export function mayRemember(client: Pick<Client, "source" | "skipConsent">, rememberForMs: number): boolean {
  return rememberForMs > 0 && !client.skipConsent && client.source !== "registration";
}

const words = (scope: string) => scope.split(" ").filter(Boolean);

/** Whether `consent` (live, as the store lists it) answers `request` without asking again. */
export function consentCovers(consent: ConsentRequest, request: ConsentRequest): boolean {
  if (consent.clientId !== request.clientId || consent.redirectUri !== request.redirectUri) return false;
  const scopes = new Set(words(consent.scope));
  if (!words(request.scope).every((s) => scopes.has(s))) return false;
  if (consent.resource.length === 0) return true;
  const resources = new Set(consent.resource);
  return request.resource.length > 0 && request.resource.every((r) => resources.has(r));
}

/** The remembered consent that answers `request`, if any. */
export function coveringConsent(consents: RememberedConsent[], request: ConsentRequest): RememberedConsent | undefined {
  return consents.find((consent) => consentCovers(consent, request));
}
