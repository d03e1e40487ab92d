// The chaos drill kills processes and floods endpoints: it may only ever aim at this machine. Every
// URL it is about to drive is checked to name a loopback host (RFC 6890: 127.0.0.0/8 and ::1;
// RFC 6761 §6.3: localhost), and anything else stops the drill before a single request.
import { isIP } from "node:net";

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1" || host === "0:0:0:0:0:0:0:1";
  return false;
}

/** Throws unless `url` names a loopback host. */
export function assertLoopback(url: string): void {
  const { hostname } = new URL(url);
  if (!isLoopbackHost(hostname)) throw new Error(`npm run chaos drives loopback targets only; refusing ${url}`);
}
