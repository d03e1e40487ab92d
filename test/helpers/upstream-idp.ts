// An independent, certified OpenID Provider (node-oidc-provider) in the test process, standing in
// for Okta / Entra / Keycloak as the auth tier's upstream identity provider, and a driver for its
// development login and consent pages over plain HTTP.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";
import { CookieJar, postForm } from "./login-flow.js";

export interface UpstreamIdp {
  /** e.g. http://127.0.0.1:41235 */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Paths of every request the provider received, in order (e.g. to count discovery fetches). */
  requests: string[];
  close(): Promise<void>;
}

export interface UpstreamIdpOptions {
  /** Redirect URIs of the auth tier's client, e.g. `<auth worker>/login/callback`. */
  redirectUris: string[];
  /** Accounts by login name (= `sub`): their claims. Any password is accepted. */
  accounts: Record<string, Record<string, unknown>>;
}

export async function startUpstreamIdp(options: UpstreamIdpOptions): Promise<UpstreamIdp> {
  const requests: string[] = [];
  let handle: RequestListener | undefined;
  // Listening first gives the port, which the issuer identifier must contain.
  const server: Server = createServer((req, res) => {
    requests.push(new URL(req.url ?? "/", "http://idp").pathname);
    handle!(req, res);
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = "aig-auth-tier";
  const clientSecret = randomBytes(24).toString("base64url");

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        response_types: ["code"],
        grant_types: ["authorization_code"],
        // oidc-provider's default, stated: the auth tier must authenticate with HTTP Basic.
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    findAccount: (_ctx, id) => {
      const claims = options.accounts[id];
      return claims ? { accountId: id, claims: () => ({ sub: id, ...claims }) } : undefined;
    },
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name", "preferred_username", "groups"],
    },
    cookies: { keys: [randomBytes(16).toString("hex")] },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
  });
  provider.on("server_error", (_ctx, err) => console.error("upstream IdP error", err));
  handle = provider.callback();

  return {
    issuer,
    clientId,
    clientSecret,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** One request with the jar's cookies, no redirect following. */
async function visit(
  jar: CookieJar,
  url: string | URL,
  init: RequestInit = {},
): Promise<{ res: Response; body: string; location?: URL }> {
  const res = await fetch(url, {
    ...init,
    redirect: "manual",
    headers: { ...(init.headers as Record<string, string>), Cookie: jar.header() },
  });
  jar.store(res);
  const location = res.headers.get("Location");
  return { res, body: await res.text(), ...(location ? { location: new URL(location, url) } : {}) };
}

/**
 * Follows the upstream's authorization URL through its development login (as `login`) and
 * consent pages, and returns where it finally sends the browser (the auth tier's callback).
 * `abort` cancels at the login page instead, which answers with error=access_denied.
 */
export async function loginUpstream(
  authorizationUrl: URL,
  login: string,
  options: { abort?: boolean; jar?: CookieJar } = {},
): Promise<URL> {
  const jar = options.jar ?? new CookieJar();
  let current = await visit(jar, authorizationUrl);
  for (let hops = 0; hops < 10; hops++) {
    const location = current.location;
    if (!location)
      throw new Error(`the upstream answered ${current.res.status} without a redirect: ${current.body.slice(0, 300)}`);
    if (location.origin !== authorizationUrl.origin) return location;
    const page = await visit(jar, location);
    const prompt = /name="prompt" value="(login|consent)"/.exec(page.body)?.[1];
    if (prompt === "login" && options.abort) {
      current = await visit(jar, `${location.href.replace(/\/$/, "")}/abort`);
    } else if (prompt === "login") {
      current = await visit(jar, location, postForm({ prompt, login, password: "any" }));
    } else if (prompt === "consent") {
      current = await visit(jar, location, postForm({ prompt }));
    } else {
      current = page;
    }
  }
  throw new Error("too many redirects at the upstream");
}
