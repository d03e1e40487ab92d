// What the Connected agents page says about each kind of client (src/auth/ui/connected-agents-pages.ts):
// the verified host of a metadata-document client, "unverified" for a self-registered one, the
// operator for a configured one, and every client-supplied string escaped; and the consents the
// person asked to remember, each with its Forget form.
import { describe, expect, it } from "vitest";
import type { ConsentView, GrantView } from "../../src/auth/grants/grant-view.js";
import { connectedAgentsPage } from "../../src/auth/ui/connected-agents-pages.js";

const GRANT: GrantView = {
  id: "grant-1",
  client_id: "https://agent.example/client.json",
  client_name: "Agent",
  client_kind: "metadata-document",
  verified_host: "agent.example",
  scope: "openid tools:read",
  resource: ["https://gateway.example/mcp"],
  granted_at: "2026-11-29T04:58:12.345Z",
  last_used_at: null,
};

const CONSENT: ConsentView = {
  id: "consent-1",
  client_id: "https://agent.example/client.json",
  client_name: "Agent",
  client_kind: "metadata-document",
  verified_host: "agent.example",
  redirect_uri: "https://agent.example/callback",
  scope: "openid tools:read",
  resource: [],
  remembered_at: "2026-11-29T04:58:12.345Z",
  expires_at: "2026-12-29T04:58:12.345Z",
};

async function render(grants: GrantView[], consents: ConsentView[] = []): Promise<string> {
  return String(await connectedAgentsPage({ user: "alice", csrf: "token-1", grants, consents }));
}

describe("the Connected agents page", () => {
  it("names a metadata-document client's verified host", async () => {
    const body = await render([GRANT]);
    expect(body).toContain("Verified host: <strong>agent.example</strong>");
    expect(body).not.toContain("Unverified");
    expect(body).toContain('<time datetime="2026-11-29T04:58:12.345Z">2026-11-29 04:58 UTC</time>');
    expect(body).toContain("not since it was granted");
    expect(body).toContain('name="grant" value="grant-1"');
    expect(body).toContain('name="csrf" value="token-1"');
  });

  it("marks a self-registered client unverified, and a configured one as the operator's", async () => {
    const registered = await render([{ ...GRANT, client_kind: "registered", verified_host: null }]);
    expect(registered).toContain("<strong>Unverified</strong>");
    const configured = await render([{ ...GRANT, client_kind: "configured", verified_host: null }]);
    expect(configured).toContain("Set up by the operator");
    expect(configured).not.toContain("Unverified");
  });

  it("shows a client no longer known by its id, and escapes whatever a client supplied", async () => {
    const body = await render([
      {
        ...GRANT,
        client_kind: "registered",
        client_name: null,
        client_id: 'x"><script>1</script>',
        scope: "<b>s</b>",
        resource: ["https://r.example/?a=<i>"],
      },
    ]);
    expect(body).not.toMatch(/<script>|<b>|<i>/);
    expect(body).toContain("&lt;script&gt;1&lt;/script&gt;");
  });

  it("says so when no application can act for the person, with no form", async () => {
    const body = await render([]);
    expect(body).toContain("No application can act for you.");
    expect(body).not.toContain("<form");
  });

  it("lists a remembered consent with what it covers, until when, and a Forget form carrying the CSRF token", async () => {
    const body = await render([], [CONSENT]);
    expect(body).toContain("Remembered consent");
    expect(body).toContain("<code>https://agent.example/callback</code>");
    expect(body).toContain("any of this service");
    expect(body).toContain('<time datetime="2026-12-29T04:58:12.345Z">2026-12-29 04:58 UTC</time>');
    expect(body).toMatch(
      /action="\/account\/agents\/forget"[\s\S]*name="consent" value="consent-1"[\s\S]*name="csrf" value="token-1"/,
    );
  });

  it("escapes a remembered consent's client-supplied strings, and says when nothing is remembered", async () => {
    const body = await render([], [{ ...CONSENT, client_name: "<img src=x>", redirect_uri: "https://a.example/<b>" }]);
    expect(body).not.toMatch(/<img|<b>/);
    expect(await render([])).toContain("No application is authorized without asking you.");
  });
});
