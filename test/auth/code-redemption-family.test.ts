// A code's redemption starts its refresh-token family in the same script that consumes the code
// (docs/storage.md): one store request. These check, against the real Redis, that only the
// redemption that consumes the code creates a family, racing redemptions included (RFC 6749
// §4.1.2: a code is used once), and that what it creates is what createFamily would have.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { CodeRecord, IssuedByCode, NewFamily, RefreshFamily } from "../../src/auth/store/store.js";
import { newRefreshToken } from "../../src/auth/tokens/refresh-tokens.js";
import { nowSec, sharedStore } from "../helpers/tokens.js";

const CLIENT = "agent-code-family";

function codeRecord(sub: string): CodeRecord {
  return {
    clientId: CLIENT,
    redirectUri: "http://127.0.0.1:9/callback",
    sub,
    scope: "tools:read",
    resource: ["https://mcp.example/"],
    codeChallenge: "x".repeat(43),
    authTime: nowSec() - 5,
    claims: {},
  };
}

function issued(familyId: string): IssuedByCode {
  return {
    accessJti: randomBytes(16).toString("base64url"),
    accessExp: nowSec() + 300,
    familyId,
    clientId: CLIENT,
    redirectUri: "http://127.0.0.1:9/callback",
    codeChallenge: "x".repeat(43),
  };
}

function newFamily(record: CodeRecord): NewFamily {
  const familyId = randomBytes(32).toString("base64url");
  const family: RefreshFamily = {
    clientId: record.clientId,
    sub: record.sub,
    scope: record.scope,
    resource: record.resource,
    authTime: record.authTime,
    claims: record.claims,
  };
  return { familyId, refreshToken: newRefreshToken(familyId), family, ttlMs: 60_000 };
}

describe("a code's redemption starts its refresh-token family in the same step", () => {
  it("creates the family a redemption names, listed in the person's grants, with a working first token", async () => {
    const store = sharedStore();
    const sub = `code-family-${randomBytes(6).toString("base64url")}`;
    const code = randomBytes(32).toString("base64url");
    await store.saveCode(code, codeRecord(sub), 60_000);
    const family = newFamily(codeRecord(sub));

    const redeemed = await store.redeemCode(code, issued(family.familyId), 60_000, family);

    expect(redeemed).toMatchObject({ status: "ok", record: { sub } });
    const stored = await store.getFamily(family.familyId, family.refreshToken);
    expect(stored).toMatchObject({ ...family.family, epoch: expect.any(String), grantedAt: expect.any(Number) });
    expect(await store.listGrants(sub)).toHaveLength(1);
  });

  it("of racing redemptions of one code, creates only the winner's family; the others are replays", async () => {
    const store = sharedStore();
    const sub = `code-race-${randomBytes(6).toString("base64url")}`;
    const code = randomBytes(32).toString("base64url");
    await store.saveCode(code, codeRecord(sub), 60_000);
    const families = Array.from({ length: 8 }, () => newFamily(codeRecord(sub)));

    const results = await Promise.all(
      families.map((family) => store.redeemCode(code, issued(family.familyId), 60_000, family)),
    );

    const winners = results.flatMap((result, i) => (result.status === "ok" ? [families[i]!] : []));
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.status === "replayed")).toHaveLength(families.length - 1);
    const found = await Promise.all(families.map((f) => store.getFamily(f.familyId, f.refreshToken)));
    expect(found.filter(Boolean)).toHaveLength(1);
    expect(await store.getFamily(winners[0]!.familyId, winners[0]!.refreshToken)).not.toBeNull();
    expect(await store.listGrants(sub)).toHaveLength(1);
  });

  it("creates nothing for a code that was never issued (a guessed code)", async () => {
    const store = sharedStore();
    const sub = `code-guess-${randomBytes(6).toString("base64url")}`;
    const family = newFamily(codeRecord(sub));

    const redeemed = await store.redeemCode(
      randomBytes(32).toString("base64url"),
      issued(family.familyId),
      60_000,
      family,
    );

    expect(redeemed).toEqual({ status: "invalid" });
    expect(await store.getFamily(family.familyId, family.refreshToken)).toBeNull();
    expect(await store.listGrants(sub)).toEqual([]);
  });
});
