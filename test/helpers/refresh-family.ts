// Refresh-token families seeded straight into the shared Redis with the auth tier's own store
// code, as a grant would create them, so refresh tests need no browser login.
import { randomBytes } from "node:crypto";
import type { RefreshFamily } from "../../src/auth/store/store.js";
import { newRefreshToken } from "../../src/auth/tokens/refresh-tokens.js";
import { nowSec, sharedStore } from "./tokens.js";

export interface SeededFamily {
  familyId: string;
  refreshToken: string;
  family: RefreshFamily;
}

/** A live family for `clientId` (user "alice-<random>", scope "openid tools:read" unless overridden). */
export async function seedRefreshFamily(
  clientId: string,
  overrides: Partial<RefreshFamily> = {},
  ttlMs = 60 * 60_000,
): Promise<SeededFamily> {
  const familyId = randomBytes(32).toString("base64url");
  const refreshToken = newRefreshToken(familyId);
  const family: RefreshFamily = {
    clientId,
    sub: `alice-${randomBytes(6).toString("base64url")}`,
    scope: "openid tools:read",
    resource: [],
    authTime: nowSec() - 60,
    claims: {},
    ...overrides,
  };
  await sharedStore().createFamily(familyId, refreshToken, family, ttlMs);
  return { familyId, refreshToken, family };
}
