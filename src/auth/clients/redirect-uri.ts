// Redirect URI rules (OAuth 2.1 §2.3.1 / RFC 8252 §7.3): exact string match, except that a
// native client's loopback redirect may use any port, since it listens on an ephemeral one.
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname);
}

function withoutPort(url: URL): string {
  const copy = new URL(url.href);
  copy.port = "";
  return copy.href;
}

/** True when `requested` is one of the client's registered redirect URIs. */
export function redirectUriMatches(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  let url: URL;
  try {
    url = new URL(requested);
  } catch {
    return false;
  }
  if (url.protocol !== "http:" || !isLoopbackHost(url.hostname)) return false;
  return registered.some((candidate) => {
    try {
      const reg = new URL(candidate);
      return reg.protocol === "http:" && isLoopbackHost(reg.hostname) && withoutPort(reg) === withoutPort(url);
    } catch {
      return false;
    }
  });
}
