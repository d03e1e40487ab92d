// The pages of "Connected agents" (docs/auth/connected-agents.md): every grant the signed-in
// person has given, each with a "Revoke" form carrying the session's CSRF token. A client's name
// is whatever it says about itself unless the operator configured it, so beside it stands what
// the tier did verify: the host that served a metadata document, or "unverified" for a client
// that registered itself (RFC 7591). Escaped like every page (pages.ts): names, scopes and
// resources come from clients. Below them, the consents the person asked to remember, each with a
// "Forget" form: the next authorization of that client asks again.
import { html } from "hono/html";
import type { ConsentView, GrantView } from "../grants/grant-view.js";
import { page } from "./pages.js";

export const CONNECTED_AGENTS_PATH = "/account/agents";
export const REVOKE_PATH = "/account/agents/revoke";
export const FORGET_PATH = "/account/agents/forget";

export interface ConnectedAgentsModel {
  user: string;
  csrf: string;
  grants: GrantView[];
  consents: ConsentView[];
  /** Set after a revocation, on the page the browser is sent back to. */
  revoked?: boolean;
  /** Set after a consent was forgotten. */
  forgotten?: boolean;
}

/** "2026-11-29 04:58 UTC": one fixed form, whatever the browser's language. */
function when(iso: string | null, otherwise: string) {
  if (!iso) return otherwise;
  return html`<time datetime="${iso}">${iso.slice(0, 16).replace("T", " ")} UTC</time>`;
}

function identity(grant: Pick<GrantView, "client_kind" | "verified_host">) {
  switch (grant.client_kind) {
    case "configured":
      return html`<p>Set up by the operator of this service.</p>`;
    case "metadata-document":
      return html`<p>Verified host: <strong>${grant.verified_host}</strong></p>`;
    case "registered":
      return html`<p class="notice">
        <strong>Unverified</strong>: it registered itself, and its name is its own claim.
      </p>`;
  }
}

/** What a grant or a remembered consent allows: its scopes, then where its tokens may be used. */
function accessRows(scope: string, resources: string[]) {
  const scopes = scope.split(" ").filter(Boolean);
  return html`<dt>Access</dt>
    <dd>${scopes.length ? scopes.map((s) => html`<code>${s}</code> `) : "basic sign-in only"}</dd>
    <dt>For use at</dt>
    <dd>${resources.length ? resources.map((r) => html`<code>${r}</code> `) : "any of this service's APIs"}</dd>`;
}

function grantCard(grant: GrantView, csrf: string) {
  return html`<section class="grant">
    <h2>${grant.client_name ?? grant.client_id}</h2>
    ${identity(grant)}
    <dl>
      <dt>Application</dt>
      <dd><code>${grant.client_id}</code></dd>
      ${accessRows(grant.scope, grant.resource)}
      <dt>Granted</dt>
      <dd>${when(grant.granted_at, "before this was recorded")}</dd>
      <dt>Last used</dt>
      <dd>${when(grant.last_used_at, "not since it was granted")}</dd>
    </dl>
    <form method="post" action="${REVOKE_PATH}">
      <input type="hidden" name="grant" value="${grant.id}" />
      <input type="hidden" name="csrf" value="${csrf}" />
      <button type="submit">Revoke</button>
    </form>
  </section>`;
}

function consentCard(consent: ConsentView, csrf: string) {
  return html`<section class="consent">
    <h3>${consent.client_name ?? consent.client_id}</h3>
    ${identity(consent)}
    <dl>
      <dt>Application</dt>
      <dd><code>${consent.client_id}</code>, returning to <code>${consent.redirect_uri}</code></dd>
      ${accessRows(consent.scope, consent.resource)}
      <dt>Remembered</dt>
      <dd>${when(consent.remembered_at, "")}, until ${when(consent.expires_at, "")}</dd>
    </dl>
    <form method="post" action="${FORGET_PATH}">
      <input type="hidden" name="consent" value="${consent.id}" />
      <input type="hidden" name="csrf" value="${csrf}" />
      <button type="submit">Forget</button>
    </form>
  </section>`;
}

export function connectedAgentsPage(m: ConnectedAgentsModel) {
  return page(
    "Connected agents",
    html`<h1>Connected agents</h1>
      <p>Signed in as <strong>${m.user}</strong>. These applications can act for you until you revoke them.</p>
      ${m.revoked ? html`<p role="status" class="notice">Revoked: that application can no longer act for you.</p>` : ""}
      ${
        m.grants.length
          ? m.grants.map((grant) => grantCard(grant, m.csrf))
          : html`<p role="status">No application can act for you.</p>`
      }
      <h2>Remembered consent</h2>
      ${
        m.forgotten
          ? html`<p role="status" class="notice">Forgotten: that application will ask you again next time.</p>`
          : ""
      }
      ${
        m.consents.length
          ? html`<p>These applications may be authorized again without asking you, for no more than you allowed.</p>
              ${m.consents.map((consent) => consentCard(consent, m.csrf))}`
          : html`<p>No application is authorized without asking you.</p>`
      }`,
  );
}

export function connectedAgentsErrorPage(description: string) {
  return page(
    "Connected agents",
    html`<h1>This request cannot continue</h1>
      <p class="error" role="alert">${description}</p>
      <p>Nothing was changed. <a href="${CONNECTED_AGENTS_PATH}">Back to your connected agents</a>.</p>`,
  );
}
