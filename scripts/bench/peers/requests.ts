// The requests scenario 8 sends to each peer and to this project's tiers alike: token requests
// (RFC 6749 §4.1.3 code redemption with PKCE, §6 refresh, RFC 8693 exchange, §4.4 client
// credentials) and an MCP tools/call whose answer may come as JSON or as one SSE event (MCP
// transports, Streamable HTTP). Each resolves to an error description, or to what the next
// request needs (a token), so that a wrong answer is counted as an error, never as a request served.
import { createHash, randomBytes } from "node:crypto";
import type { HttpClient } from "../load.js";
import type { McpSession } from "../mcp-client.js";

export const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

/** One PKCE verifier for every code of a run (RFC 7636 §4.1), and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

/** How long one request may take before it counts as an error: a stalled peer fails the run, never hangs it. */
export const REQUEST_TIMEOUT_MS = 30_000;

/** `work`, or a rejection once `ms` have passed without it settling. */
export function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export interface TokenAnswer {
  access_token?: string;
  refresh_token?: string;
  error?: string;
  error_description?: string;
}

/** POSTs a token request; resolves to the answer, or throws with what came back instead. */
export async function tokenRequest(
  http: HttpClient,
  endpoint: string,
  authorization: string,
  form: Record<string, string>,
  timeoutMs = REQUEST_TIMEOUT_MS,
): Promise<TokenAnswer> {
  const answer = await within(
    http.send(
      "POST",
      endpoint,
      { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json", Authorization: authorization },
      new URLSearchParams(form).toString(),
    ),
    timeoutMs,
    `POST ${endpoint}`,
  );
  let body: TokenAnswer;
  try {
    body = JSON.parse(answer.body) as TokenAnswer;
  } catch {
    throw new Error(`HTTP ${answer.status}: ${answer.body.slice(0, 200)}`);
  }
  if (answer.status !== 200 || !body.access_token)
    throw new Error(
      `HTTP ${answer.status}: ${body.error ?? ""} ${body.error_description ?? answer.body.slice(0, 200)}`,
    );
  return body;
}

export const codeForm = (code: string, redirectUri: string, verifier: string) => ({
  grant_type: "authorization_code",
  code,
  redirect_uri: redirectUri,
  code_verifier: verifier,
});

export const refreshForm = (refreshToken: string) => ({ grant_type: "refresh_token", refresh_token: refreshToken });

export const exchangeForm = (subjectToken: string, extra: Record<string, string> = {}) => ({
  grant_type: EXCHANGE,
  subject_token: subjectToken,
  subject_token_type: ACCESS_TOKEN_TYPE,
  requested_token_type: ACCESS_TOKEN_TYPE,
  scope: "tools:read",
  ...extra,
});

/** The JSON-RPC message of an answer sent as JSON or as an SSE stream (the last `data:` carrying one). */
export function rpcMessage(contentType: string | undefined, body: string): unknown {
  if (!contentType?.includes("text/event-stream")) return JSON.parse(body);
  const data = body
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).trim())
    .filter((line) => line.startsWith("{"));
  if (data.length === 0) throw new Error(`no JSON-RPC message in the event stream: ${body.slice(0, 200)}`);
  return JSON.parse(data[data.length - 1]!);
}

let nextId = 1_000_000;

/** One tools/call of `name` with `text`; resolves to an error description, or undefined when it echoed. */
export async function echoCall(
  http: HttpClient,
  session: McpSession,
  name: string,
  text: string,
  timeoutMs = REQUEST_TIMEOUT_MS,
): Promise<string | undefined> {
  const answer = await within(
    http.send(
      "POST",
      session.url,
      { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...session.headers },
      JSON.stringify({ jsonrpc: "2.0", id: ++nextId, method: "tools/call", params: { name, arguments: { text } } }),
    ),
    timeoutMs,
    `tools/call at ${session.url}`,
  );
  if (answer.status !== 200) return `HTTP ${answer.status}: ${answer.body.slice(0, 200)}`;
  const ct = answer.headers["content-type"];
  const message = rpcMessage(typeof ct === "string" ? ct : undefined, answer.body) as {
    result?: { isError?: boolean; content?: { text?: string }[] };
    error?: { code: number; message: string };
  };
  if (message.error) return `JSON-RPC ${message.error.code}: ${message.error.message}`;
  if (message.result?.isError || message.result?.content?.[0]?.text !== text)
    return `unexpected answer: ${answer.body.slice(0, 200)}`;
  return undefined;
}
