// How a grant is shown, to the operator (admin API) and to the person who gave it: which client
// (its name, and for a client identified by a metadata document the host that served it, the
// only identity the tier has verified; a self-registered client's name is its own claim, so
// "unverified"), the scopes and resources granted, when it was granted and last used
// (docs/auth/grants-and-admin.md). The grant's id is its family's reference, never the family id,
// which is half of every refresh token of the grant.
import { findClient } from "../clients/clients.js";
import { isMetadataDocumentClientId } from "../clients/metadata-document.js";
import type { ProviderContext } from "../provider-context.js";
import type { GrantRecord } from "../store/store.js";

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

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** The grants as shown, each client looked up once; a client that cannot be found is shown by its id. */
export async function viewGrants(provider: ProviderContext, grants: GrantRecord[]): Promise<GrantView[]> {
  const clientIds = [...new Set(grants.map((grant) => grant.family.clientId))];
  const names = new Map(
    await Promise.all(
      clientIds.map(async (id) => [id, (await findClient(provider, id).catch(() => null))?.name ?? null] as const),
    ),
  );
  const configured = new Set(provider.config.provider.apps.map((app) => app.clientId));
  return grants.map(({ id, family, lastUsedAt }) => {
    const metadataDocument = isMetadataDocumentClientId(family.clientId) && !configured.has(family.clientId);
    return {
      id,
      client_id: family.clientId,
      client_name: names.get(family.clientId) ?? null,
      client_kind: configured.has(family.clientId)
        ? "configured"
        : metadataDocument
          ? "metadata-document"
          : "registered",
      verified_host: metadataDocument ? new URL(family.clientId).host : null,
      scope: family.scope,
      resource: family.resource,
      granted_at: iso(family.grantedAt),
      last_used_at: iso(lastUsedAt),
    };
  });
}
