// How the auth tier's store reads Redis's answers over the Upstash REST protocol (src/auth/store/store.ts,
// openStore): as plain JSON, without asking the service to base64-encode every string of every answer,
// and a value comes back exactly as it was written, whatever its characters (the values are JSON
// the tier wrote: UTF-8, which a JSON answer carries as it is).
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { openStore, type CodeRecord } from "../../src/auth/store/store.js";
import { nowSec } from "../helpers/tokens.js";
import { sharedRedis } from "../helpers/workers.js";

function codeRecord(claims: Record<string, unknown>): CodeRecord {
  return {
    clientId: "agent-store-answers",
    redirectUri: "http://127.0.0.1:9/callback",
    sub: `store-answers-${randomBytes(6).toString("base64url")}`,
    scope: "openid profile",
    resource: ["https://mcp.example/"],
    codeChallenge: "x".repeat(43),
    authTime: nowSec(),
    claims,
  };
}

describe("the store's answers", () => {
  it("come back exactly as written, accents, scripts and emoji included", async () => {
    const store = openStore(sharedRedis());
    const code = randomBytes(32).toString("base64url");
    const record = codeRecord({ name: "José Ñúñez", nickname: "日本語の名前", emoji: "🎉 ok", quote: 'say "hi"\\n' });
    await store.saveCode(code, record, 60_000);
    expect(await store.peekCode(code)).toEqual(record);
  });

  it("are asked for as plain JSON, never base64", async () => {
    const seen: IncomingHttpHeaders[] = [];
    // A stand-in for the service: records what the client asks for and answers one GET plainly.
    const server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ result: JSON.stringify(codeRecord({ name: "Zoë" })) }));
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const { port } = server.address() as AddressInfo;
      const store = openStore({ url: `http://127.0.0.1:${port}`, token: "stand-in" });
      const record = await store.peekCode("any code");
      expect(record?.claims).toEqual({ name: "Zoë" });
      expect(seen).toHaveLength(1);
      expect(seen[0]!["upstash-encoding"]).toBeUndefined();
    } finally {
      server.close();
    }
  });
});
