// Which outbound configuration a tool call uses: the first entry of `tools` whose name equals the
// tool's, or whose regex matches the WHOLE name (so `list_.*` never matches a prefix of a longer,
// different name by accident of a missing anchor); otherwise the app's defaults.
import { isPattern, type TokenExchangeConfig } from "../apps-schema.js";

export interface ResolvedToolConfig {
  /** Identifies the configuration entry, for the exchanged-token cache. */
  key: string;
  ttlMs: number;
  scopes: string[];
}

const compiled = new Map<string, RegExp>();

function wholeMatch(pattern: string, name: string): boolean {
  let regex = compiled.get(pattern);
  if (!regex) {
    // Anchored again around the author's pattern: `^a|b$` must not match "xb".
    regex = new RegExp(`^(?:${pattern.replace(/^\^/, "").replace(/\$$/, "")})$`);
    compiled.set(pattern, regex);
  }
  return regex.test(name);
}

export function resolveToolConfig(exchange: TokenExchangeConfig, toolName: string | undefined): ResolvedToolConfig {
  if (toolName !== undefined) {
    for (const [index, tool] of exchange.tools.entries()) {
      const matches = isPattern(tool.name) ? wholeMatch(tool.name, toolName) : tool.name === toolName;
      if (matches) return { key: `tools.${index}`, ttlMs: tool.ttl, scopes: tool.scopes.map((s) => s.name) };
    }
  }
  return { key: "defaults", ttlMs: exchange.defaults.ttl, scopes: exchange.defaults.scopes.map((s) => s.name) };
}
