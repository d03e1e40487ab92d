// Server-rendered pages: plain, accessible HTML with no external assets. `html` escapes every
// interpolated value, so nothing a client or user sends can become markup.
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

const STYLE = raw(`
  body { font: 16px/1.5 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  main { max-width: 26rem; margin: 4rem auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px #0002; }
  h1 { font-size: 1.35rem; margin-top: 0; }
  label { display: block; margin: 1rem 0 .25rem; font-weight: 600; }
  label.inline { display: inline; margin: 0; font-weight: normal; }
  input[type=text], input[type=password] { width: 100%; box-sizing: border-box; padding: .55rem; border: 1px solid #8a94a6; border-radius: 4px; font-size: 1rem; }
  button, .button { margin-top: 1.25rem; padding: .6rem 1.2rem; font-size: 1rem; border-radius: 4px; border: 1px solid #1a56db; background: #1a56db; color: #fff; cursor: pointer; text-decoration: none; display: inline-block; }
  button.secondary { background: #fff; color: #1a56db; }
  button:focus-visible, input:focus-visible, .button:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
  .error { color: #9b1c1c; background: #fde8e8; padding: .5rem .75rem; border-radius: 4px; }
  .notice { color: #713f12; background: #fef9c3; padding: .5rem .75rem; border-radius: 4px; }
  ul { padding-left: 1.25rem; } code { background: #eef; padding: 0 .2rem; }
  .divider { margin: 1.25rem 0 0; color: #4b5563; text-align: center; }
`);

export function page(title: string, body: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>${title}</title>
        <style>
          ${STYLE}
        </style>
      </head>
      <body>
        <main>${body}</main>
      </body>
    </html>`;
}

/** An authorization error shown to the user, for when the redirect URI cannot be trusted. */
export function errorPage(error: string, description: string): Html {
  return page(
    "Authorization error",
    html`<h1>This request cannot continue</h1>
      <p class="error" role="alert"><strong>${error}</strong>: ${description}</p>
      <p>Close this window and start again from the application.</p>`,
  );
}

export interface LoginPageModel {
  interaction: string;
  csrf: string;
  clientName: string;
  error?: string;
  username?: string;
  builtinUsers: boolean;
  upstream?: { name: string };
}

export function loginPage(m: LoginPageModel): Html {
  return page(
    "Sign in",
    html`<h1>Sign in to continue to ${m.clientName}</h1>
      ${m.error ? html`<p class="error" role="alert">${m.error}</p>` : ""}
      ${
        m.upstream
          ? html`<form method="get" action="/login/upstream">
              <input type="hidden" name="interaction" value="${m.interaction}" /><button type="submit">
                ${m.upstream.name}
              </button>
            </form>`
          : ""
      }
      ${m.upstream && m.builtinUsers ? html`<p class="divider">or sign in with a username and password</p>` : ""}
      ${
        m.builtinUsers
          ? html`<form method="post" action="/login">
              <input type="hidden" name="interaction" value="${m.interaction}" />
              <input type="hidden" name="csrf" value="${m.csrf}" />
              <label for="username">Username</label>
              <input
                id="username"
                name="username"
                type="text"
                autocomplete="username"
                required
                value="${m.username ?? ""}"
              />
              <label for="password">Password</label>
              <input id="password" name="password" type="password" autocomplete="current-password" required />
              <button type="submit">Sign in</button>
            </form>`
          : ""
      }`,
  );
}

export interface ConsentPageModel {
  interaction: string;
  csrf: string;
  clientName: string;
  clientId: string;
  /**
   * For a client the operator did not configure, whose name is whatever it says about itself:
   * the one thing about it that is not self-asserted, shown with an "unverified application"
   * notice. For a metadata-document client, its client_id URL's host; for a self-registered
   * client (RFC 7591), the host its redirect URI sends the authorization to.
   */
  unverified?: { host: string; via: "metadata-document" | "redirect-uri" };
  user: string;
  scopes: string[];
  resources: string[];
  /**
   * Offered only for a client that may be remembered (grants/remembered-consent.ts): a box,
   * unticked, to skip this page for this much (days) of the same request.
   */
  rememberDays?: number;
}

function unverifiedNotice({ host, via }: NonNullable<ConsentPageModel["unverified"]>): Html {
  const where =
    via === "metadata-document"
      ? html`This application describes itself at <strong>${host}</strong>.`
      : html`This application registered itself here, and the access you allow is sent to <strong>${host}</strong>.`;
  return html`<p class="notice" role="note">
    <strong>Unverified application.</strong> ${where} Its name is what it says about itself: allow it only if you expect
    an application from <strong>${host}</strong>.
  </p>`;
}

export function consentPage(m: ConsentPageModel): Html {
  return page(
    "Allow access?",
    html`<h1>Allow ${m.clientName}${m.unverified ? html` from ${m.unverified.host}` : ""} to act for you?</h1>
      ${m.unverified ? unverifiedNotice(m.unverified) : ""}
      <p>Signed in as <strong>${m.user}</strong>. The application <code>${m.clientId}</code> asks for:</p>
      <ul>
        ${m.scopes.length ? m.scopes.map((s) => html`<li><code>${s}</code></li>`) : html`<li>basic sign-in only</li>`}
      </ul>
      ${
        m.resources.length
          ? html`<p>for use at:</p>
              <ul>
                ${m.resources.map((r) => html`<li><code>${r}</code></li>`)}
              </ul>`
          : ""
      }
      <form method="post" action="/consent">
        <input type="hidden" name="interaction" value="${m.interaction}" />
        <input type="hidden" name="csrf" value="${m.csrf}" />
        ${
          m.rememberDays
            ? html`<p>
                <label class="inline"
                  ><input type="checkbox" name="remember" value="1" /> Remember this decision for ${m.rememberDays}
                  day(s)</label
                >
                You can forget it on your <a href="/account/agents">connected agents</a> page.
              </p>`
            : ""
        }
        <button type="submit" name="decision" value="allow">Allow</button>
        <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
      </form>`,
  );
}
