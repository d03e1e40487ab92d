// The one-step refresh (store.rotateRefreshOfClient): the family's lookup, its client check and
// the rotation in one script. Against the real Redis, the rules of the two-step path hold: only
// the family's own client rotates it or, with a token rotated out of it, revokes it (OAuth 2.1
// §4.3.1, RFC 9700 §4.14.2); anyone else, or a family that is gone, changes nothing.
import { describe, expect, it } from "vitest";
import { newRefreshToken } from "../../src/auth/tokens/refresh-tokens.js";
import { seedRefreshFamily } from "../helpers/refresh-family.js";
import { sharedStore } from "../helpers/tokens.js";

const OWNER = "one-step-owner";
const ATTACKER = "one-step-attacker";
const ACCESS_TTL = 60_000;

describe("a refresh in one store request", () => {
  it("rotates the owner's current token and returns the family read in the same step", async () => {
    const store = sharedStore();
    const { familyId, refreshToken, family } = await seedRefreshFamily(OWNER);
    const next = newRefreshToken(familyId);

    const { result, family: found } = await store.rotateRefreshOfClient(
      familyId,
      refreshToken,
      next,
      OWNER,
      ACCESS_TTL,
    );

    expect(result).toEqual({ status: "ok" });
    expect(found).toMatchObject(family);
    expect(await store.getFamily(familyId, next)).not.toBeNull();
  });

  it("lets another client neither rotate the current token nor revoke the family with a rotated-out one", async () => {
    const store = sharedStore();
    const { familyId, refreshToken } = await seedRefreshFamily(OWNER);
    const second = newRefreshToken(familyId);
    await store.rotateRefreshOfClient(familyId, refreshToken, second, OWNER, ACCESS_TTL);

    const stolenCurrent = await store.rotateRefreshOfClient(
      familyId,
      second,
      newRefreshToken(familyId),
      ATTACKER,
      ACCESS_TTL,
    );
    const stolenOld = await store.rotateRefreshOfClient(
      familyId,
      refreshToken,
      newRefreshToken(familyId),
      ATTACKER,
      ACCESS_TTL,
    );

    // Not in the attacker's grant index: the script changes nothing and leaves the decision to
    // the two-step path (grants/refresh-token.ts), which refuses another client's token.
    expect(stolenCurrent).toEqual({ result: { status: "unchecked" }, family: null });
    expect(stolenOld).toEqual({ result: { status: "unchecked" }, family: null });
    // The owner's current token still works: nothing rotated, nothing revoked.
    expect(await store.getFamily(familyId, second)).not.toBeNull();
  });

  it("revokes the family when its own client presents a rotated-out token (reuse)", async () => {
    const store = sharedStore();
    const { familyId, refreshToken } = await seedRefreshFamily(OWNER);
    const second = newRefreshToken(familyId);
    await store.rotateRefreshOfClient(familyId, refreshToken, second, OWNER, ACCESS_TTL);

    const reused = await store.rotateRefreshOfClient(
      familyId,
      refreshToken,
      newRefreshToken(familyId),
      OWNER,
      ACCESS_TTL,
    );

    expect(reused.result).toEqual({ status: "reused" });
    expect(await store.getFamily(familyId, second)).toBeNull();
  });

  it("changes nothing for a family that does not exist (a made-up token)", async () => {
    const store = sharedStore();
    const { familyId } = await seedRefreshFamily(OWNER);
    const madeUp = newRefreshToken(`${familyId}x`);

    const answer = await store.rotateRefreshOfClient(
      `${familyId}x`,
      madeUp,
      newRefreshToken(familyId),
      OWNER,
      ACCESS_TTL,
    );

    expect(answer).toEqual({ result: { status: "invalid" }, family: null });
  });
});
