// The demo audit collector (scripts/demo-upstreams.ts, `npm run dev`'s mcpProvider.audit.sink)
// is where the dev stack's audit trail lands and where `npm run agent` reads it. Anyone on the
// machine can reach its port, so it must take events only from the gateway: the gateway's sink
// sends `Authorization: Bearer <token>` (mcpProvider.audit.sink.headers, from the secret
// AUDIT_SINK_AUTH), and the collector answers 401 to anything else, for posting and listing alike.
import { randomUUID } from "node:crypto";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditEventsOf } from "../helpers/e2e-clients.js";
import { startE2eStack, type E2eStack } from "../helpers/e2e-stack.js";

let stack: E2eStack;

beforeAll(async () => {
  stack = await startE2eStack();
}, 120_000);
afterAll(async () => {
  await stack?.dispose();
});

const collectorEvents = (stack: E2eStack) => `http://localhost:${stack.ports.audit}/events`;

/** What an attacker would plant: a success the user never had, in the victim's session. */
const forged = (sessionId: string) => ({
  events: [
    {
      tool: "notes__create_note",
      decision: "allow",
      outcome: "success",
      agent: "attacker",
      user: "demo",
      session_id: sessionId,
    },
  ],
});

describe("the demo audit collector", () => {
  it("refuses a forged batch without the gateway's token, with a wrong one, and keeps none of it", async () => {
    const sessionId = `forged-${randomUUID()}`;
    for (const authorization of [undefined, "Bearer wrong", `Basic ${btoa("gateway:x")}`, "Bearer "]) {
      const res = await fetch(stack.demo.auditUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...(authorization ? { Authorization: authorization } : {}) },
        body: JSON.stringify(forged(sessionId)),
      });
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get("WWW-Authenticate")).toMatch(/^Bearer/);
      await res.body?.cancel();
    }
    expect(stack.demo.auditEvents.filter((event) => event.session_id === sessionId)).toEqual([]);
    const listed = await fetch(`${collectorEvents(stack)}?session_id=${sessionId}`, {
      headers: { Authorization: `Bearer ${stack.info.auditToken}` },
    });
    expect(await listed.json()).toEqual({ events: [] });
  });

  it("does not list events to a caller without the token", async () => {
    const res = await fetch(collectorEvents(stack));
    expect(res.status).toBe(401);
    await res.body?.cancel();
  });

  it("still receives the gateway's own events, and lists them with the token", async () => {
    const { clientId, clientSecret } = stack.info.machineAgent;
    const provider = new ClientCredentialsProvider({
      clientId,
      clientSecret,
      scope: "tools:read",
      expectedIssuer: stack.info.auth,
    });
    const transport = new StreamableHTTPClientTransport(new URL(stack.info.mcp), { authProvider: provider });
    const client = new Client({ name: "audit-check", version: "1.0.0" });
    await client.connect(transport);
    try {
      const result = (await client.callTool({ name: "demo__echo", arguments: { text: "audited" } })) as CallToolResult;
      expect(result.isError).toBeFalsy();
      const sessionId = transport.sessionId!;
      const events = await auditEventsOf(stack.demo, sessionId, 1);
      expect(events.at(-1)).toMatchObject({
        tool: "demo__echo",
        agent: clientId,
        outcome: "success",
        session_id: sessionId,
      });
      const listed = (await (
        await fetch(`${collectorEvents(stack)}?session_id=${sessionId}`, {
          headers: { Authorization: `Bearer ${stack.info.auditToken}` },
        })
      ).json()) as { events: unknown[] };
      expect(listed.events).toEqual(events);
    } finally {
      await client.close();
    }
  });
});
