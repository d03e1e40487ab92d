// Redirect URI rules: which URIs a client may register (RFC 6749 §3.1.2, RFC 8252 §7, §8.3), and
// how a requested one is matched (OAuth 2.1 §2.3.1 / RFC 8252 §7.3): exact string match, except
// that a native client's loopback redirect may use any port, since it listens on an ephemeral one.
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname);
}

/** Schemes that run or embed content in the browser instead of reaching a client: a code sent there is script injection. */
const DANGEROUS_SCHEMES = new Set(["javascript:", "data:", "file:", "vbscript:", "blob:", "about:", "filesystem:"]);

/** Why `uri` may not be registered as a redirect URI, or null when it may. */
export function redirectUriProblem(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return "is not an absolute URI";
  }
  // RFC 6749 §3.1.2: the endpoint URI MUST NOT include a fragment (an empty "#" included).
  if (uri.includes("#")) return "must not contain a fragment";
  if (DANGEROUS_SCHEMES.has(url.protocol)) return `must not use the ${url.protocol} scheme`;
  if (url.username || url.password) return "must not contain user information";
  if (url.protocol === "https:") return null;
  // RFC 8252 §7.3 / §8.3: plain http only for a native app's loopback listener.
  if (url.protocol === "http:")
    return isLoopbackHost(url.hostname) ? null : "may use http only on a loopback host (127.0.0.1, [::1], localhost)";
  // RFC 8252 §7.1: a private-use scheme is a reverse domain name, so it contains a dot.
  if (!url.protocol.slice(0, -1).includes("."))
    return `uses ${url.protocol} which is neither https nor a private-use scheme such as com.example.app:`;
  return null;
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
