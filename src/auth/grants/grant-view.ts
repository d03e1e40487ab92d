// How a grant is shown, to the operator (admin API) and to the person who gave it: which client
// (its name, and for a client identified by a metadata document the host that served it, the
// only identity the tier has verified; a self-registered client's name is its own claim, so
// "unverified"), the scopes and resources granted, when it was granted and last used
// (docs/auth/grants-and-admin.md). The grant's id is its family's reference, never the family id,
// which is half of every refresh token of the grant.
import { findClient } from "../clients/clients.js";
import { isMetadataDocumentClientId } from "../clients/metadata-document.js";
import type { ProviderContext } from "../provider-context.js";
import type { GrantRecord, RememberedConsent } from "../store/store.js";

export interface GrantView {
  id: string;
  client_id: string;
  /** The client's name as configured, registered or published; null when it is no longer known. */
  client_name: string | null;
  /** `configured` by the operator, `metadata-document` (verified host), or self-`registered` (unverified). */
  client_kind: "configured" | "metadata-document" | "registered";
  /** The host that served the client's metadata document; null for other clients. */
  verified_host: string | null;
  scope: string;
  resource: string[];
  /** ISO 8601; null for grants from before the tier recorded it. */
  granted_at: string | null;
  /** ISO 8601 of the last refresh; null when never refreshed. */
  last_used_at: string | null;
}

/** A remembered consent as the person sees it (docs/auth/connected-agents.md). */
export interface ConsentView {
  id: string;
  client_id: string;
  client_name: string | null;
  client_kind: GrantView["client_kind"];
  verified_host: string | null;
  redirect_uri: string;
  scope: string;
  resource: string[];
  remembered_at: string;
  expires_at: string;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

type ClientIdentity = Pick<GrantView, "client_id" | "client_name" | "client_kind" | "verified_host">;

/** Who each client is, each looked up once; a client that cannot be found is shown by its id. */
async function identities(provider: ProviderContext, clientIds: string[]): Promise<Map<string, ClientIdentity>> {
  const configured = new Set(provider.config.provider.apps.map((app) => app.clientId));
  const unique = [...new Set(clientIds)];
  return new Map(
    await Promise.all(
      unique.map(async (clientId) => {
        const name = (await findClient(provider, clientId).catch(() => null))?.name ?? null;
        const metadataDocument = isMetadataDocumentClientId(clientId) && !configured.has(clientId);
        const identity: ClientIdentity = {
          client_id: clientId,
          client_name: name,
          client_kind: configured.has(clientId) ? "configured" : metadataDocument ? "metadata-document" : "registered",
          verified_host: metadataDocument ? new URL(clientId).host : null,
        };
        return [clientId, identity] as const;
      }),
    ),
  );
}

/** The grants as shown, each client looked up once; a client that cannot be found is shown by its id. */
export async function viewGrants(provider: ProviderContext, grants: GrantRecord[]): Promise<GrantView[]> {
  const clients = await identities(
    provider,
    grants.map((grant) => grant.family.clientId),
  );
  return grants.map(({ id, family, lastUsedAt }) => ({
    id,
    ...clients.get(family.clientId)!,
    scope: family.scope,
    resource: family.resource,
    granted_at: iso(family.grantedAt),
    last_used_at: iso(lastUsedAt),
  }));
}

/** The remembered consents as shown, with the same identity of each client as its grants. */
export async function viewConsents(provider: ProviderContext, consents: RememberedConsent[]): Promise<ConsentView[]> {
  const clients = await identities(
    provider,
    consents.map((consent) => consent.clientId),
  );
  return consents.map((consent) => ({
    id: consent.id,
    ...clients.get(consent.clientId)!,
    redirect_uri: consent.redirectUri,
    scope: consent.scope,
    resource: consent.resource,
    remembered_at: new Date(consent.rememberedAt).toISOString(),
    expires_at: new Date(consent.expiresAt).toISOString(),
  }));
}
