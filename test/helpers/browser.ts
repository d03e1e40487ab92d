// Headless Chromium from the system (Debian's `chromium` package; .ci/run installs it), driven by
// playwright-core, which never downloads browsers of its own.
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Quiet, offline-friendly flags: no background traffic, so every request a page makes is its own. */
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}

export interface RedirectTarget {
  /** The redirect URI to register, e.g. http://127.0.0.1:41235/callback */
  url: string;
  /** Query strings of every request the browser made to the redirect URI. */
  received: URLSearchParams[];
  close(): Promise<void>;
}

/** A client's loopback redirect URI (RFC 8252 §7.3): records what arrives, answers a short page. */
export async function startRedirectTarget(): Promise<RedirectTarget> {
  const received: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://client");
    // Browsers also ask for /favicon.ico; only the redirect URI itself counts.
    if (url.pathname === "/callback") received.push(url.searchParams);
    res
      .writeHead(200, { "Content-Type": "text/html; charset=utf-8" })
      .end('<!doctype html><html lang="en"><title>Done</title><p>You can close this window.</p></html>');
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface OtherSite {
  /** The site's one page, on `localhost` (another origin than the tiers' `127.0.0.1` and ports). */
  url: string;
  /** The HTML the page answers from now on: what the test wants a browser to run from elsewhere. */
  page: string;
  close(): Promise<void>;
}

/** A site of somebody else's (a client's, or an attacker's), whose page a test sets before visiting it. */
export async function startOtherSite(): Promise<OtherSite> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(site.page);
  }).listen(0, "127.0.0.1");
  await once(server, "listening");
  const site: OtherSite = {
    url: `http://localhost:${(server.address() as AddressInfo).port}/`,
    page: "",
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return site;
}
