// The token a session sends upstream for one operation of an app (docs/apps.md): none for
// `outbound: none`, else a per-tool token from RFC 8693 exchange at the identity provider,
// reused from the session's cache while it will outlive the call (its own `exp` against the
// app's reuse margin and observed latency). The agent's own token is only ever the exchange's
// subject, never sent upstream.
import { secondsSince, telemetryMetrics } from "../../core/telemetry/metrics.js";
import { currentTraceparent, inSpan, SpanKind } from "../../core/telemetry/spans.js";
import type { AppConfig, TokenExchangeConfig } from "../apps-schema.js";
import type { GatewayConfig } from "../config.js";
import type { GatewayEnv } from "../env.js";
import { slowestRecentCall } from "./call-latency.js";
import type { OutboundToken } from "./outbound-token.js";
import { cacheKey, TokenCache, type TokenCacheEntries } from "./token-cache.js";
import { ExchangeError, exchangeToken, type ExchangedToken } from "./token-exchange-client.js";
import { resolveToolConfig, type ResolvedToolConfig } from "./tool-config.js";

export type { OutboundToken };

export interface OutboundTokensDeps {
  env: GatewayEnv;
  config: GatewayConfig;
  /** The agent's own token: the subject of every exchange. */
  subjectToken: string;
  /** The session's cached tokens; `save` receives what is still live after each exchange. */
  entries: TokenCacheEntries;
  save(entries: TokenCacheEntries): void;
  /**
   * Exchanges under way, by cache key, shared by every caller that holds this map: concurrent
   * calls that find no cached token wait for one exchange instead of each making their own
   * (a principal's context answers a burst of requests at once).
   */
  inFlight?: Map<string, Promise<ExchangedToken>>;
}

export class OutboundTokens {
  private readonly cache: TokenCache;

  constructor(private readonly deps: OutboundTokensDeps) {
    this.cache = new TokenCache(deps.entries);
  }

  /**
   * For `upstreamTool`, or for what is not a tool call (listing, prompts, resources) when
   * undefined. `fresh`: the upstream refused the last token, so exchange anew and drop it.
   */
  async forApp(
    app: AppConfig,
    upstreamTool: string | undefined,
    options: { fresh?: boolean } = {},
  ): Promise<OutboundToken> {
    const outbound = app.authorization.outbound;
    if (outbound.type === "none") return { token: undefined };
    const exchange = outbound.tokenExchange;
    const toolConfig = resolveToolConfig(exchange, upstreamTool);
    const key = cacheKey(app.name, toolConfig.key, exchange.audience, toolConfig.scopes);
    if (options.fresh) this.cache.drop(key);
    else if (exchange.cache) {
      const hit = this.cache.get(key, Math.max(exchange.reuseMargin, slowestRecentCall(app.name)));
      if (hit)
        return { token: hit.token, cached: true, expiresAt: hit.expiresAt, ...(hit.jti ? { jti: hit.jti } : {}) };
    }
    // Only a cacheable token is shared: an app that caches nothing gets one exchange per call.
    const inFlight = exchange.cache ? this.deps.inFlight : undefined;
    const pending = options.fresh ? undefined : inFlight?.get(key);
    if (pending) {
      const shared = await pending;
      return {
        token: shared.token,
        cached: true,
        expiresAt: shared.expiresAt,
        ...(shared.jti ? { jti: shared.jti } : {}),
      };
    }
    const exchanged = this.exchange(app, exchange, toolConfig, key);
    if (inFlight) {
      inFlight.set(key, exchanged);
      void exchanged.finally(() => inFlight.get(key) === exchanged && inFlight.delete(key)).catch(() => undefined);
    }
    const fresh = await exchanged;
    return { token: fresh.token, cached: false, expiresAt: fresh.expiresAt, ...(fresh.jti ? { jti: fresh.jti } : {}) };
  }

  /** One exchange at the identity provider (RFC 8693), cached when the app allows it. */
  private async exchange(
    app: AppConfig,
    exchange: TokenExchangeConfig,
    toolConfig: ResolvedToolConfig,
    key: string,
  ): Promise<ExchangedToken> {
    // Closing a session at its idle timeout may find no agent token left to exchange.
    if (!this.deps.subjectToken) throw new ExchangeError("invalid_request", "no agent token to exchange");
    const idp = this.deps.config.provider.identityProviders[exchange.idp]!;
    const binding = idp.binding ? (this.deps.env[idp.binding] as Fetcher | undefined) : undefined;
    if (idp.binding && !binding)
      throw new ExchangeError("server_error", `the service binding ${idp.binding} is not configured`);
    const started = Date.now();
    const fresh = await inSpan(
      "token_exchange",
      { kind: SpanKind.CLIENT, attributes: { "gateway.app": app.name, "oauth.audience": exchange.audience } },
      async () => {
        let outcome = "error";
        try {
          const traceparent = currentTraceparent();
          const token = await exchangeToken(
            idp,
            this.deps.config.secrets[idp.clientSecret.env]!,
            {
              subjectToken: this.deps.subjectToken,
              audience: exchange.audience,
              scopes: toolConfig.scopes,
              ttlMs: toolConfig.ttlMs,
              type: exchange.type,
              ...(traceparent ? { traceparent } : {}),
            },
            binding,
          );
          outcome = "success";
          return token;
        } finally {
          telemetryMetrics().tokenExchangeDuration.record(secondsSince(started), {
            "gateway.app": app.name,
            "gateway.outcome": outcome,
          });
        }
      },
    );
    if (exchange.cache) this.cache.put(key, fresh);
    this.deps.save(this.cache.snapshot());
    return fresh;
  }
}
