// The `requestState` the gateway hands a 2026-07-28 agent with an `input_required` result (MCP
// 2026-07-28 basic/patterns/mrtr; docs/mcp-endpoint.md, "Multi round-trip requests"). The agent
// echoes it on its retry, and the spec makes it attacker-controlled input ("Server Requirements"):
// it routes the retry (which request, which principal, which upstream state or held call), so it
// is signed with HMAC-SHA-256 and refused unless the signature, the principal, the request it
// retries and its expiry all check out. Not encrypted: what it carries is the agent's own request
// and the upstream's opaque state, both of which the agent may see.
import { JsonRpcError } from "../../core/errors.js";

/** What a state stands for. */
export type StatePayload = {
  /** The principal (principalKey) whose request this retries. */
  p: string;
  /** The method and the name (tool, prompt) or URI it retries. */
  m: string;
  n: string;
  /** Milliseconds since the epoch after which the state is refused. */
  exp: number;
  /** The round this state ends (1 for the first `input_required`). */
  r: number;
} & (
  | /** A modern upstream's own state, echoed upstream on the retry (absent when it sent none). */ {
      k: "upstream";
      s?: string;
    }
  | /** A call held in the principal's object, and the input request it waits on. */ { k: "held"; h: string; q: string }
);

const encoder = new TextEncoder();
const INFO = "ai-identity-gateway mrtr requestState v1";

/** The refusal of a state that fails any check (mrtr, "Error Handling": a protocol error; -32602 as the SDK's codec). */
export function invalidState(why: string): JsonRpcError {
  return new JsonRpcError(-32602, `Invalid params: requestState ${why}`);
}

export class RequestStateCodec {
  private readonly key: Promise<CryptoKey>;

  /** `secret`: the bytes the signing key is derived from (HKDF-SHA-256, RFC 5869). */
  constructor(secret: Uint8Array<ArrayBuffer>) {
    this.key = crypto.subtle
      .importKey("raw", secret, "HKDF", false, ["deriveKey"])
      .then((material) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info: encoder.encode(INFO) },
          material,
          { name: "HMAC", hash: "SHA-256", length: 256 },
          false,
          ["sign", "verify"],
        ),
      );
  }

  async mint(payload: StatePayload): Promise<string> {
    const body = base64url(encoder.encode(JSON.stringify(payload)));
    const tag = new Uint8Array(await crypto.subtle.sign("HMAC", await this.key, encoder.encode(body)));
    return `${body}.${base64url(tag)}`;
  }

  /** The payload of a state this gateway minted for `expected`, or the spec's error. */
  async verify(state: unknown, expected: { p: string; m: string; n: string }, now = Date.now()): Promise<StatePayload> {
    if (typeof state !== "string" || state.length > 16_384) throw invalidState("is not one the gateway issued");
    const [body, tag, extra] = state.split(".");
    if (!body || !tag || extra !== undefined) throw invalidState("is not one the gateway issued");
    let signature: Uint8Array<ArrayBuffer>;
    try {
      signature = fromBase64url(tag);
    } catch {
      throw invalidState("is not one the gateway issued");
    }
    // crypto.subtle.verify compares in constant time.
    const valid = await crypto.subtle.verify("HMAC", await this.key, signature, encoder.encode(body));
    if (!valid) throw invalidState("failed verification");
    const payload = JSON.parse(new TextDecoder().decode(fromBase64url(body))) as StatePayload;
    if (payload.p !== expected.p) throw invalidState("belongs to another principal");
    if (payload.m !== expected.m || payload.n !== expected.n) throw invalidState("belongs to another request");
    if (!(payload.exp > now)) throw invalidState("has expired");
    return payload;
  }
}

/**
 * The key material of a gateway: its configured secrets (sorted by name, so every isolate derives
 * the same key), or, with none configured, `fallback` (a random value kept by the principal's object).
 */
export function stateSecret(secrets: Record<string, string>, fallback: () => string): Uint8Array<ArrayBuffer> {
  const names = Object.keys(secrets).sort();
  const joined = names.length ? names.map((name) => `${name}=${secrets[name]}`).join("\n") : fallback();
  return new Uint8Array(encoder.encode(joined));
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
