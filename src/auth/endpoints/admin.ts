// The admin API (docs/auth/grants-and-admin.md): the operator's levers over what people have
// granted. List a person's grants; revoke one, every grant of a person, or every token of a
// client (incident response: a compromised agent cut off everywhere at once, its machine tokens
// included). Only an operator gets here (admin-operator.ts); each action is audited as a log
// line naming the operator, the action and its target. Answers are JSON and never cached.
import { Hono, type Context } from "hono";
import { OAuthError } from "../../core/errors.js";
import { log } from "../../core/log.js";
import { viewGrants } from "../grants/grant-view.js";
import type { ProviderContext } from "../provider-context.js";
import { requireOperator, type AdminApp } from "./admin-operator.js";

const NO_STORE = { "Cache-Control": "no-store", Pragma: "no-cache" };

/** A client- or person-wide marker must outlive every token issued before it: refresh families and access tokens. */
function markerTtl(provider: ProviderContext): number {
  const { tokens } = provider.config.provider;
  return Math.max(tokens.refreshTokenTTL, tokens.accessTokenTTL);
}

function audit(c: Context<AdminApp>, action: string, target: Record<string, string>, outcome: Record<string, unknown>) {
  log("info", "admin.action", { operator: c.get("operator"), action, target, ...outcome });
}

export const adminRoutes = new Hono<AdminApp>();
adminRoutes.use("/admin/*", requireOperator);

adminRoutes.get("/admin/users/:sub/grants", async (c) => {
  const provider = c.get("provider");
  const sub = c.req.param("sub");
  const grants = await viewGrants(provider, await provider.store.listGrants(sub));
  audit(c, "list_grants", { sub }, { count: grants.length });
  return c.json({ sub, grants }, 200, NO_STORE);
});

adminRoutes.delete("/admin/users/:sub/grants/:id", async (c) => {
  const provider = c.get("provider");
  const { sub, id } = c.req.param();
  const revoked = await provider.store.revokeGrant(sub, id, provider.config.provider.tokens.accessTokenTTL);
  audit(c, "revoke_grant", { sub, grant: id }, { revoked });
  if (!revoked) throw new OAuthError("invalid_request", "the person has no such grant", 404);
  return c.body(null, 204, NO_STORE);
});

adminRoutes.delete("/admin/users/:sub/grants", async (c) => {
  const provider = c.get("provider");
  const sub = c.req.param("sub");
  const { accessTokenTTL } = provider.config.provider.tokens;
  const revoked = await provider.store.revokeEverything("sub", sub, markerTtl(provider), accessTokenTTL);
  audit(c, "revoke_person", { sub }, { grants_revoked: revoked });
  return c.json({ sub, grants_revoked: revoked, tokens_revoked_before: nowIso() }, 200, NO_STORE);
});

adminRoutes.delete("/admin/clients/:client_id/tokens", async (c) => {
  const provider = c.get("provider");
  const clientId = c.req.param("client_id");
  const { accessTokenTTL } = provider.config.provider.tokens;
  const revoked = await provider.store.revokeEverything("client", clientId, markerTtl(provider), accessTokenTTL);
  audit(c, "revoke_client", { client_id: clientId }, { grants_revoked: revoked });
  return c.json({ client_id: clientId, grants_revoked: revoked, tokens_revoked_before: nowIso() }, 200, NO_STORE);
});

const nowIso = () => new Date().toISOString();
