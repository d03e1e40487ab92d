// Scenario 8 of the bench (scripts/bench/peers.ts) starts three peers from the installed packages;
// this checks, without timing anything, that each starts and answers one request correctly, so the
// peers scenario does not rot between the runs that measure it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpClient } from "../../scripts/bench/load.js";
import { openMcpSession } from "../../scripts/bench/mcp-client.js";
import { cpuSeconds } from "../../scripts/bench/peers/process-cpu.js";
import {
  basic,
  codeForm,
  echoCall,
  exchangeForm,
  pkcePair,
  refreshForm,
  tokenRequest,
} from "../../scripts/bench/peers/requests.js";
import {
  buildPeers,
  startMcpAgentPeer,
  startOAuthProviderPeer,
  startOidcProviderPeer,
} from "../../scripts/bench/peers/start.js";

describe("bench peers (npm run bench -- --peers)", () => {
  const buildDir = mkdtempSync(join(tmpdir(), "aig-peers-test-"));
  const http = httpClient(4);

  beforeAll(async () => {
    await buildPeers(buildDir);
  }, 120_000);

  afterAll(() => {
    http.close();
    rmSync(buildDir, { recursive: true, force: true });
  });

  for (const store of ["kv", "memory"] as const) {
    it(`workers-oauth-provider (${store}) redeems a code, refreshes, and exchanges a token`, async () => {
      const peer = await startOAuthProviderPeer(buildDir, store);
      try {
        expect(cpuSeconds(peer.pid)).toBeGreaterThan(0);
        const client = (await (await fetch(`${peer.url}/bench/client`, { method: "POST" })).json()) as {
          clientId: string;
          clientSecret: string;
          redirectUri: string;
        };
        const { verifier, challenge } = pkcePair();
        const { codes } = (await (
          await fetch(`${peer.url}/bench/codes`, {
            method: "POST",
            body: JSON.stringify({ clientId: client.clientId, n: 1, codeChallenge: challenge }),
          })
        ).json()) as { codes: string[] };
        const auth = basic(client.clientId, client.clientSecret);
        const endpoint = `${peer.url}/token`;
        const issued = await tokenRequest(http, endpoint, auth, codeForm(codes[0]!, client.redirectUri, verifier));
        expect(issued.refresh_token).toBeTruthy();
        const refreshed = await tokenRequest(http, endpoint, auth, refreshForm(issued.refresh_token!));
        expect(refreshed.access_token).not.toBe(issued.access_token);
        const exchanged = await tokenRequest(http, endpoint, auth, exchangeForm(refreshed.access_token!));
        expect(exchanged.access_token).toBeTruthy();
        expect(exchanged.access_token).not.toBe(refreshed.access_token);
        // The code is single-use: a second redemption is an OAuth error, not a token (and it
        // revokes the grant, RFC 6749 §4.1.2, so it comes last).
        await expect(
          tokenRequest(http, endpoint, auth, codeForm(codes[0]!, client.redirectUri, verifier)),
        ).rejects.toThrow(/invalid_grant/);
      } finally {
        await peer.dispose();
      }
    });
  }

  it("oidc-provider issues a JWT access token for client credentials", async () => {
    const peer = await startOidcProviderPeer();
    try {
      const token = await tokenRequest(http, `${peer.url}/token`, basic(peer.clientId, peer.clientSecret), {
        grant_type: "client_credentials",
        scope: "tools:read",
        resource: "http://gateway.test/mcp",
      });
      const claims = decodeJwt(token.access_token!);
      expect(claims.aud).toBe("http://gateway.test/mcp");
      expect(claims.client_id).toBe(peer.clientId);
    } finally {
      await peer.dispose();
    }
  });

  it("the McpAgent answers the echo tool in an MCP session", async () => {
    const peer = await startMcpAgentPeer(buildDir);
    try {
      const session = await openMcpSession(http, `${peer.url}/mcp`);
      expect(await echoCall(http, session, "echo", "hello peers")).toBeUndefined();
      // A tool it does not have is an error, not an echo.
      expect(await echoCall(http, session, "missing", "x")).toBeDefined();
    } finally {
      await peer.dispose();
    }
  });
});
