// The token an operation sends upstream, as the session's outbound tokens (outbound-tokens.ts)
// hand it out: in a module of its own so that the call pipeline and its in-process tests name it
// without loading the exchange machinery and the runtime's bindings.
export interface OutboundToken {
  /** None for `outbound: none`. */
  token: string | undefined;
  jti?: string;
  /** Whether it came from the session's cache; absent when no token is sent. */
  cached?: boolean;
  /** Unix milliseconds: when the upstream will refuse it (ExchangedToken.expiresAt). */
  expiresAt?: number;
}
