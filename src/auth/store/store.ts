// The auth tier's only door to state (docs/storage.md): every record lives in Redis with a TTL,
// reached over HTTP with the Upstash REST protocol, so any instance can serve any request.
// Secrets used as lookup keys (codes, refresh tokens) are stored by their SHA-256 only, so a
// copy of Redis does not hold usable credentials. Every JSON value goes through `values`
// (value-encryption.ts): with `oidcProvider.cache.redis.encryption` on it is AES-GCM sealed and
// bound to its key name; Lua scripts only ever move values as opaque strings.
//
// Store faults (docs/reliability/store-faults.md): every operation has a deadline (`cache.operationTimeout`,
// retries included) and any failure surfaces as one typed error, StoreUnavailable, which the tier
// answers with 503 temporarily_unavailable and Retry-After. A store that lost its data is noticed
// by its epoch (`aig:epoch`, written once with SET-if-absent): what the tier issues carries the
// epoch, and anything issued under another epoch is unknown, so refused.
import { Redis } from "@upstash/redis/cloudflare";
import { randomToken, sha256Base64Url } from "../../core/encoding.js";
import { log } from "../../core/log.js";
import { BatchedLookups } from "./batched-lookups.js";
import { familyReference } from "./family-reference.js";
import {
  COUNT_IN_WINDOW,
  CREATE_FAMILY,
  EPOCH,
  REDEEM_CODE,
  REMEMBER_CONSENT,
  REVOKE_BEFORE,
  REVOKE_FAMILY,
  ROTATE_REFRESH,
} from "./scripts.js";
import { StoredValues, ValueCipher, type ValueKey } from "./value-encryption.js";

export interface StoreConnection {
  url: string;
  token: string;
  /** Encryption at rest of the values (docs/auth-tier.md, "Redis encryption at rest"); absent = plain JSON. */
  encryption?: { keys: ValueKey[]; activeKey?: string; acceptPlaintext: boolean };
}

/** A grant in the making: what /authorize recorded and login/consent completed. */
export interface CodeRecord {
  clientId: string;
  redirectUri: string;
  sub: string;
  scope: string;
  /** RFC 8707 resource(s) bound to the code. */
  resource: string[];
  codeChallenge: string;
  nonce?: string;
  authTime: number;
  /** The login session the code was issued in (its `sid`), for the ID token. */
  sid?: string;
  /** Claims of the user released to this client (for the ID token and userinfo). */
  claims: Record<string, unknown>;
  /** The user's claims that access tokens carry (tokens/claims.ts accessTokenClaims). */
  accessClaims?: Record<string, unknown>;
}

/**
 * What one redemption of a code issued, so that a replay can revoke it (RFC 6749 §4.1.2), and the
 * code's binding, so that only its own client (same redirect URI, a verifier that matches) counts
 * as replaying it.
 */
export interface IssuedByCode {
  accessJti: string;
  accessExp: number;
  familyId?: string;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
}

/** A refresh-token family: every rotation of one original grant (OAuth 2.1 §4.3.1). */
export interface RefreshFamily {
  clientId: string;
  sub: string;
  scope: string;
  resource: string[];
  authTime: number;
  /** The login session the grant was given in (its `sid`), for refreshed ID tokens. */
  sid?: string;
  claims: Record<string, unknown>;
  accessClaims?: Record<string, unknown>;
  /** The store epoch the family was created under (set by createFamily). */
  epoch?: string;
  /** When the grant was given, ms since the epoch (set by createFamily; absent on older families). */
  grantedAt?: number;
}

/** A refresh-token family to start: its id, its first token, its record and its lifetime. */
export interface NewFamily {
  familyId: string;
  refreshToken: string;
  family: RefreshFamily;
  ttlMs: number;
}

/** A live grant of a person, as the grant indexes find it (docs/auth/grants-and-admin.md). */
export interface GrantRecord {
  /** The grant's public id: its family's reference (family-reference.ts), never the family id. */
  id: string;
  family: RefreshFamily;
  /** When its refresh token last rotated, ms since the epoch; absent when never refreshed. */
  lastUsedAt?: number;
}

/**
 * A consent the person asked the tier to remember (docs/auth/connected-agents.md): a later
 * authorization of the same client and redirect URI asking for no more than these scopes and
 * resources skips the consent page until `expiresAt`.
 */
export interface RememberedConsent {
  /** Public id (random): what the Connected agents page's Forget form names. */
  id: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  resource: string[];
  /** When it was given, ms since the epoch; a client- or person-wide revocation after it voids it. */
  rememberedAt: number;
  /** ms since the epoch: fixed when given, never extended by use. */
  expiresAt: number;
  /** The store epoch it was given under (set by rememberConsent). */
  epoch?: string;
}

/** What a token's revocation is decided on: its own claims (tokens/jwt.ts AccessTokenClaims). */
export interface RevocationSubject {
  jti: string;
  /** The refresh family's reference, when the token came from one. */
  fam?: string | undefined;
  ep?: string | undefined;
  client_id: string;
  sub: string;
  /** Issued at, seconds: a client- or person-wide revocation covers tokens issued up to its second. */
  iat: number;
}

/** Who a revocation of everything issued before now covers: every token of a client, or of a person. */
export type RevocationScope = "client" | "sub";

export type RedeemResult =
  { status: "ok"; record: CodeRecord } | { status: "replayed"; issued: IssuedByCode } | { status: "invalid" };
/**
 * A refresh token rotated out of its family, kept by its hash for the family's remaining lifetime
 * so that only a token really issued in the family counts as reuse (OAuth 2.1 §4.3.1). It names
 * its successor and when it was replaced: what a retry window (the same client presenting it
 * again moments later) would need to recognise a retry of that rotation.
 */
export interface RefreshRotation {
  /** When the token was rotated out, ms since the epoch. */
  rotatedAt: number;
  /** SHA-256 (base64url) of the token that replaced it. */
  successor: string;
}

/**
 * `retry`: the presented token was rotated out less than the grace window ago and its successor
 * is still the family's current token, so this is the same client asking again for an answer
 * it did not receive: `successor` is the refresh token that rotation issued.
 */
export type RotateResult = { status: "ok" | "reused" | "revoked" | "invalid" } | { status: "retry"; successor: string };

/** Why a token is not honoured: revoked, or issued under a store epoch that is not the store's now. */
export type Revocation = false | "revoked" | "unknown-epoch";

/** The store did not answer within its deadline, or answered with an error. */
export class StoreUnavailable extends Error {
  constructor(
    readonly operation: string,
    cause: unknown,
  ) {
    super(
      `the store did not complete ${operation}: ${cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause)}`,
      { cause },
    );
    this.name = "StoreUnavailable";
  }
}

/** The successor a retry within the grace window gets back, sealed like any stored value. */
interface RefreshRetry {
  refreshToken: string;
}

/**
 * How long an isolate mints with the epoch it last read: tokens minted up to this long after a
 * loss carry the old epoch and are refused at their first use (never honoured). Verification
 * always reads the store's epoch itself.
 */
export const EPOCH_CACHE_MS = 5_000;

const key = {
  code: (hash: string) => `aig:code:${hash}`,
  codeUsed: (hash: string) => `aig:code-used:${hash}`,
  family: (id: string) => `aig:rf:${id}`,
  familyCurrent: (id: string) => `aig:rf-current:${id}`,
  /** Under the family id (its refresh tokens) and under its reference (its access tokens' `fam`). */
  familyRevoked: (id: string) => `aig:rf-revoked:${id}`,
  familyRotated: (id: string) => `aig:rf-rotated:${id}`,
  /** A rotation's successor, for a retry of that rotation within the grace window. */
  familyRetry: (id: string, presentedHash: string) => `aig:rf-retry:${id}:${presentedHash}`,
  /** When the family's refresh token last rotated (its grant's "last used"). */
  familyUsed: (id: string) => `aig:rf-used:${id}`,
  /** A person's grants: family reference → family id. */
  personGrants: (sub: string) => `aig:grants:sub:${sub}`,
  /** A client's grants: family id → family reference. */
  clientGrants: (clientId: string) => `aig:grants:client:${clientId}`,
  /** A person's remembered consents: consent id → sealed RememberedConsent. */
  consents: (sub: string) => `aig:consent:${sub}`,
  /** Everything issued to a client or a person up to this second (seconds) is revoked. */
  revokedBefore: (scope: RevocationScope, id: string) => `aig:revoked-before:${scope}:${id}`,
  /** The store's epoch: written once, gone only when the store lost its data. */
  epoch: () => "aig:epoch",
  revokedJti: (jti: string) => `aig:revoked:${jti}`,
  /** Under the session's public id (the SHA-256 of its cookie), never the cookie itself. */
  session: (sid: string) => `aig:session:${sid}`,
  interaction: (id: string) => `aig:interaction:${id}`,
  logout: (id: string) => `aig:logout:${id}`,
  client: (id: string) => `aig:client:${id}`,
  userClaims: (sub: string) => `aig:userinfo:${sub}`,
  once: (scope: string, id: string) => `aig:once:${scope}:${id}`,
  rate: (scope: string, id: string) => `aig:rate:${scope}:${id}`,
  cache: (name: string) => `aig:cache:${name}`,
};

/** A consent's record is sealed under its hash and field, so a value moved to another id does not open. */
const consentValueKey = (sub: string, id: string) => `${key.consents(sub)}:${id}`;

const ttl = (ms: number) => Math.max(1, Math.ceil(ms));

export class Store {
  private readonly redeemCodeScript;
  private readonly rotateRefreshScript;
  private readonly revokeFamilyScript;
  private readonly createFamilyScript;
  private readonly revokeBeforeScript;
  private readonly rememberConsentScript;
  private readonly countScript;
  private readonly epochScript;
  private readonly revocationLookups: BatchedLookups;
  /** The epoch this isolate last read from the store, and when. */
  private epochSeen: { value: string; at: number } | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly values: StoredValues = new StoredValues(null),
  ) {
    this.revocationLookups = new BatchedLookups((keys) => redis.mget<(string | null)[]>(...keys), {
      maxKeys: 256,
      // A lookup waits at most this long for a batch on its way before its own goes: long enough
      // for a nearby store to answer (batching under load), short beside a distant store's round trip.
      maxWaitMs: 2,
      deadlineMs: 3_000,
    });
    this.redeemCodeScript = redis.createScript<[string, string]>(REDEEM_CODE);
    this.rotateRefreshScript = redis.createScript<[string, string, string?, string?]>(ROTATE_REFRESH);
    this.revokeFamilyScript = redis.createScript<number>(REVOKE_FAMILY);
    this.createFamilyScript = redis.createScript<number>(CREATE_FAMILY);
    this.revokeBeforeScript = redis.createScript<number>(REVOKE_BEFORE);
    this.rememberConsentScript = redis.createScript<number>(REMEMBER_CONSENT);
    this.countScript = redis.createScript<[number, number]>(COUNT_IN_WINDOW);
    this.epochScript = redis.createScript<[string, number]>(EPOCH);
  }

  // ── The store's epoch ───────────────────────────────────────────────────────────────────

  /** The epoch to stamp into what is issued now: read (or created) at most every EPOCH_CACHE_MS. */
  async currentEpoch(): Promise<string> {
    if (this.epochSeen && Date.now() - this.epochSeen.at < EPOCH_CACHE_MS) return this.epochSeen.value;
    const [value, created] = await this.epochScript.exec([key.epoch()], [randomToken(16)]);
    if (Number(created) === 1) {
      // A first start, or a store that lost its data: either way nothing issued before is known.
      log(this.epochSeen ? "error" : "warn", "store.epoch_created", {
        epoch: value,
        ...(this.epochSeen ? { previous: this.epochSeen.value } : {}),
        message: "the store had no epoch: tokens and grants issued under any earlier epoch are refused",
      });
      this.epochSeen = null;
    }
    this.noteEpoch(value);
    return value;
  }

  /** Records the epoch read from the store; a change seen by this isolate is logged once. */
  private noteEpoch(value: string): void {
    if (this.epochSeen && this.epochSeen.value !== value) {
      log("error", "store.epoch_changed", {
        previous: this.epochSeen.value,
        epoch: value,
        message: "the store lost its data: tokens and grants issued before are refused, users sign in again",
      });
    }
    this.epochSeen = { value, at: Date.now() };
  }

  /** Whether `epoch` is the store's epoch as `stored` (one read) says; creates a missing one. */
  private async isCurrentEpoch(epoch: string | undefined, stored: string | null): Promise<boolean> {
    if (stored === null) {
      if (this.epochSeen) this.epochSeen.at = 0;
      await this.currentEpoch();
      return false;
    }
    this.noteEpoch(stored);
    return epoch === stored;
  }

  /**
   * Counts an event in a fixed window (rate limits), or with `count: false` only reads the
   * count. `id` is hashed: keys never hold usernames or addresses in the clear.
   */
  async countInWindow(
    scope: string,
    id: string,
    windowMs: number,
    count = true,
  ): Promise<{ count: number; retryAfterMs: number }> {
    const [n, left] = await this.countScript.exec(
      [key.rate(scope, await sha256Base64Url(id))],
      [String(ttl(windowMs)), count ? "1" : "0"],
    );
    return { count: Number(n), retryAfterMs: Number(left) };
  }

  /** True when Redis answers PING within `timeoutMs`. */
  async ping(timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const answer = this.redis.ping().then(
      (reply) => reply === "PONG",
      () => false,
    );
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  // ── Authorization codes ─────────────────────────────────────────────────────────────────

  async saveCode(code: string, record: CodeRecord, ttlMs: number): Promise<void> {
    const k = key.code(await sha256Base64Url(code));
    await this.redis.set(k, await this.values.encode(k, record), { px: ttl(ttlMs) });
  }

  /**
   * Redeems a code exactly once, atomically (GETDEL in one script). The first redemption leaves
   * a marker naming what it issued; a later one finds the marker and reports a replay. With
   * `family`, the redemption that consumes the code also starts that refresh-token family (what
   * createFamily does), in the same script: one store request for the whole redemption.
   */
  async redeemCode(code: string, issued: IssuedByCode, markerTtlMs: number, family?: NewFamily): Promise<RedeemResult> {
    const hash = await sha256Base64Url(code);
    const [codeKey, usedKey] = [key.code(hash), key.codeUsed(hash)];
    const [marker, created] = await Promise.all([
      this.values.encode(usedKey, issued),
      family ? this.familyArgs(family) : null,
    ]);
    const [status, payload] = await this.redeemCodeScript.exec(
      [codeKey, usedKey, ...(created?.keys ?? [])],
      [marker, String(ttl(markerTtlMs)), ...(created?.args ?? [])],
    );
    if (status === "ok") {
      const record = await this.values.decode<CodeRecord>(codeKey, payload);
      if (record) return { status, record };
    } else if (status === "replayed") {
      const marker = await this.values.decode<IssuedByCode>(usedKey, payload);
      if (marker) return { status, issued: marker };
    }
    return { status: "invalid" };
  }

  /** The code's record, without consuming it: its binding is checked before redeemCode. */
  async peekCode(code: string): Promise<CodeRecord | null> {
    return this.getJson<CodeRecord>(key.code(await sha256Base64Url(code)));
  }

  /** What the redemption of an already used code issued, while its marker lasts. */
  async getCodeRedemption(code: string): Promise<IssuedByCode | null> {
    return this.getJson<IssuedByCode>(key.codeUsed(await sha256Base64Url(code)));
  }

  // ── Refresh-token families ──────────────────────────────────────────────────────────────

  /** Starts a family and enters it in its person's and its client's grant indexes, in one step. */
  async createFamily(familyId: string, refreshToken: string, family: RefreshFamily, ttlMs: number): Promise<void> {
    const { keys, args } = await this.familyArgs({ familyId, refreshToken, family, ttlMs });
    await this.createFamilyScript.exec(keys, args);
  }

  /** CREATE_FAMILY's KEYS and ARGV (also the tail of REDEEM_CODE's): the record stamped and sealed. */
  private async familyArgs({ familyId, refreshToken, family, ttlMs }: NewFamily): Promise<{
    keys: string[];
    args: string[];
  }> {
    const stamped: RefreshFamily = { grantedAt: Date.now(), ...family, epoch: await this.currentEpoch() };
    const [sealed, tokenHash, reference] = await Promise.all([
      this.values.encode(key.family(familyId), stamped),
      sha256Base64Url(refreshToken),
      familyReference(familyId),
    ]);
    return {
      keys: [
        key.family(familyId),
        key.familyCurrent(familyId),
        key.personGrants(family.sub),
        key.clientGrants(family.clientId),
      ],
      args: [sealed, tokenHash, String(ttl(ttlMs)), reference, familyId],
    };
  }

  /**
   * Rotates a family's refresh token. Only the current token rotates; presenting a token that was
   * rotated out of the family (a reuse) revokes the whole family; any other token changes nothing.
   * One script, so that of two concurrent refreshes with the same token at most one can win. The
   * caller checks beforehand that the presenting client is the family's (a reuse only counts
   * from it). Nothing stored is parsed here or in the script.
   *
   * With `graceMs` > 0 the rotation also keeps its successor (sealed) for that long, so that the
   * token it replaced, presented again while the successor is still current (an answer lost to a
   * stall), gets the successor back (`retry`) rather than counting as a reuse.
   */
  async rotateRefresh(
    familyId: string,
    presented: string,
    next: string,
    accessTtlMs: number,
    graceMs = 0,
  ): Promise<RotateResult> {
    // Without a client to check, the script never answers "unchecked".
    return (await this.rotate(familyId, presented, next, accessTtlMs, graceMs, null)).result as RotateResult;
  }

  /**
   * The lookup and the rotation in one store request: rotateRefresh, with the family's presence
   * and its client (the family is in `clientId`'s grant index) checked by the script before it
   * changes anything. Returns the family the presented token belongs to, read in the same step,
   * or `invalid` when the family is gone, is another client's, does not open or is of another
   * epoch (a family of another epoch may have been rotated or revoked by then: it is dead anyway).
   * The caller checks nothing beforehand that depends on the family's record (scope or resource
   * narrowing need rotateRefresh after getFamily). `unchecked`: the family is not in the client's
   * index (another client's, or created before the indexes existed); nothing changed, and the
   * caller takes the two-step path, which decides from the record.
   */
  async rotateRefreshOfClient(
    familyId: string,
    presented: string,
    next: string,
    clientId: string,
    accessTtlMs: number,
    graceMs = 0,
  ): Promise<{ result: RotateResult | { status: "unchecked" }; family: RefreshFamily | null }> {
    const { result, record, epoch } = await this.rotate(familyId, presented, next, accessTtlMs, graceMs, clientId);
    if (result.status === "unchecked") return { result, family: null };
    const family = await this.values.decode<RefreshFamily>(key.family(familyId), record ?? null);
    if (!family || family.clientId !== clientId || !(await this.familyOfThisEpoch(family, epoch || null))) {
      return { result: { status: "invalid" }, family: null };
    }
    return { result, family };
  }

  private async rotate(
    familyId: string,
    presented: string,
    next: string,
    accessTtlMs: number,
    graceMs: number,
    clientId: string | null,
  ): Promise<{ result: RotateResult | { status: "unchecked" }; record?: string; epoch?: string }> {
    const [presentedHash, nextHash, reference] = await Promise.all([
      sha256Base64Url(presented),
      sha256Base64Url(next),
      familyReference(familyId),
    ]);
    const rotation: RefreshRotation = { rotatedAt: Date.now(), successor: nextHash };
    const retryKey = key.familyRetry(familyId, presentedHash);
    const retry =
      graceMs > 0
        ? `${nextHash} ${await this.values.encode(retryKey, { refreshToken: next } satisfies RefreshRetry)}`
        : "";
    const [status, payload, record, epoch] = await this.rotateRefreshScript.exec(
      [
        key.familyCurrent(familyId),
        key.familyRevoked(familyId),
        key.familyRevoked(reference),
        key.familyRotated(familyId),
        retryKey,
        key.familyUsed(familyId),
        ...(clientId === null ? [] : [key.family(familyId), key.clientGrants(clientId), key.epoch()]),
      ],
      [
        presentedHash,
        nextHash,
        String(ttl(accessTtlMs)),
        JSON.stringify(rotation),
        retry,
        String(Math.max(0, Math.ceil(graceMs))),
        String(rotation.rotatedAt),
        ...(clientId === null ? [] : [familyId]),
      ],
    );
    const found = { ...(record !== undefined ? { record } : {}), ...(epoch !== undefined ? { epoch } : {}) };
    if (status === "retry") {
      const kept = await this.values.decode<RefreshRetry>(retryKey, payload);
      return { result: kept ? { status, successor: kept.refreshToken } : { status: "invalid" }, ...found };
    }
    return { result: { status: status as "ok" | "reused" | "revoked" | "invalid" | "unchecked" }, ...found };
  }

  /** Revokes a family: its refresh token stops working and so do access tokens minted from it. */
  async revokeFamily(familyId: string, accessTtlMs: number): Promise<boolean> {
    const keys = [...this.familyKeys(familyId), key.familyRevoked(await familyReference(familyId))];
    return (await this.revokeFamilyScript.exec(keys, [String(ttl(accessTtlMs))])) === 1;
  }

  /** The family whose current refresh token is `refreshToken`, if it exists and is not revoked. */
  async getFamily(familyId: string, refreshToken: string): Promise<RefreshFamily | null> {
    const [record, current, revoked, epoch] = await this.redis.mget<(string | null)[]>(
      ...this.familyKeys(familyId),
      key.epoch(),
    );
    if (!record || revoked || current !== (await sha256Base64Url(refreshToken))) return null;
    const family = await this.values.decode<RefreshFamily>(key.family(familyId), record);
    return family && (await this.familyOfThisEpoch(family, epoch ?? null)) ? family : null;
  }

  /**
   * A family found in the store belongs to it unless it names another epoch (a store rolled
   * back under a new epoch). Families from before epochs existed are in the store, so known.
   */
  private async familyOfThisEpoch(family: RefreshFamily, stored: string | null): Promise<boolean> {
    if (family.epoch === undefined && stored !== null) return true;
    return this.isCurrentEpoch(family.epoch, stored);
  }

  /**
   * The family `refreshToken` was rotated out of, and when and by what it was replaced; null when
   * the token was never issued in this family or the family has ended.
   */
  async getRotatedRefresh(
    familyId: string,
    refreshToken: string,
  ): Promise<{ family: RefreshFamily; rotation: RefreshRotation } | null> {
    const [rotation, [record, epoch]] = await Promise.all([
      sha256Base64Url(refreshToken).then((hash) => this.redis.hget<string>(key.familyRotated(familyId), hash)),
      this.redis.mget<(string | null)[]>(key.family(familyId), key.epoch()),
    ]);
    const family = await this.values.decode<RefreshFamily>(key.family(familyId), record ?? null);
    if (!rotation || !family || !(await this.familyOfThisEpoch(family, epoch ?? null))) return null;
    return { family, rotation: JSON.parse(rotation) as RefreshRotation };
  }

  private familyKeys(familyId: string): string[] {
    return [key.family(familyId), key.familyCurrent(familyId), key.familyRevoked(familyId)];
  }

  // ── Grant indexes (docs/auth/grants-and-admin.md) ───────────────────────────────────────

  /**
   * The live grants of a person: families that exist, are not revoked and belong to this epoch.
   * Entries of ended families are dropped from the indexes on the way (they end by TTL one by
   * one, while an index lives as long as its longest family).
   */
  async listGrants(sub: string): Promise<GrantRecord[]> {
    const index = await this.hashEntries(key.personGrants(sub));
    if (index.length === 0) return [];
    const values = await this.redis.mget<(string | null)[]>(
      ...index.flatMap(([, familyId]) => [key.family(familyId), key.familyRevoked(familyId), key.familyUsed(familyId)]),
      key.epoch(),
    );
    const epoch = values.at(-1) ?? null;
    const grants: GrantRecord[] = [];
    const ended: [string, string][] = [];
    for (const [i, [id, familyId]] of index.entries()) {
      const [record, revoked, used] = values.slice(i * 3, i * 3 + 3);
      const family = revoked ? null : await this.values.decode<RefreshFamily>(key.family(familyId), record ?? null);
      if (!family || family.sub !== sub || !(await this.familyOfThisEpoch(family, epoch))) {
        ended.push([id, familyId]);
        continue;
      }
      grants.push({ id, family, ...(used ? { lastUsedAt: Number(used) } : {}) });
    }
    await Promise.all(ended.map(([id, familyId]) => this.forgetGrant(sub, id, familyId, null)));
    return grants.sort((a, b) => (b.family.grantedAt ?? 0) - (a.family.grantedAt ?? 0));
  }

  /**
   * Ends one grant of a person (its refresh family and the access tokens minted from it).
   * False when the person has no grant of that id.
   */
  async revokeGrant(sub: string, id: string, accessTtlMs: number): Promise<boolean> {
    const familyId = await this.redis.hget<string>(key.personGrants(sub), id);
    if (!familyId) return false;
    const existed = await this.revokeFamily(familyId, accessTtlMs);
    const record = await this.values.decode<RefreshFamily>(
      key.family(familyId),
      await this.redis.get<string>(key.family(familyId)),
    );
    await Promise.all([
      this.forgetGrant(sub, id, familyId, record?.clientId ?? null),
      // A person who ends an agent's grant expects to be asked before it gets another.
      record ? this.forgetClientConsents(sub, record.clientId) : null,
    ]);
    return existed;
  }

  /**
   * Revokes everything issued to a client (`client`) or a person (`sub`) up to this second:
   * a marker every check of an access token reads (isRevoked), then every refresh family the
   * grant index holds. Returns how many families it ended. The marker is written first, so a
   * family created meanwhile is either in the index or issued after the marker.
   */
  async revokeEverything(
    scope: RevocationScope,
    id: string,
    markerTtlMs: number,
    accessTtlMs: number,
  ): Promise<number> {
    await this.revokeBeforeScript.exec(
      [key.revokedBefore(scope, id)],
      [String(Math.floor(Date.now() / 1000)), String(ttl(markerTtlMs))],
    );
    // Remembered consents given up to the marker are void by it (listConsents); a person's go too.
    if (scope === "sub") await this.redis.del(key.consents(id));
    const index = await this.hashEntries(scope === "sub" ? key.personGrants(id) : key.clientGrants(id));
    const familyIds = index.map(([field, value]) => (scope === "sub" ? value : field));
    const ended = await Promise.all(familyIds.map((familyId) => this.revokeFamily(familyId, accessTtlMs)));
    return ended.filter(Boolean).length;
  }

  /**
   * A hash's fields and values. Without automatic deserialization the client hands HGETALL's
   * reply over as Redis sent it: one flat array, field, value, field, value.
   */
  private async hashEntries(k: string): Promise<[string, string][]> {
    const flat = ((await this.redis.hgetall(k)) ?? []) as unknown as string[];
    const entries: [string, string][] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) entries.push([String(flat[i]), String(flat[i + 1])]);
    return entries;
  }

  /** Drops an ended family from the indexes; with `clientId` null, from the person's only. */
  private async forgetGrant(sub: string, id: string, familyId: string, clientId: string | null): Promise<void> {
    await Promise.all([
      this.redis.hdel(key.personGrants(sub), id),
      ...(clientId ? [this.redis.hdel(key.clientGrants(clientId), familyId)] : []),
    ]);
  }

  // ── Remembered consent (docs/auth/connected-agents.md) ──────────────────────────────────

  /** Every stored consent of the person, decoded; null where a value does not open or names another id. */
  private async storedConsents(sub: string): Promise<[string, RememberedConsent | null][]> {
    const entries = await this.hashEntries(key.consents(sub));
    return Promise.all(
      entries.map(async ([id, value]) => {
        const consent = await this.values.decode<RememberedConsent>(consentValueKey(sub, id), value);
        return [id, consent && consent.id === id ? consent : null] as [string, RememberedConsent | null];
      }),
    );
  }

  /**
   * The person's live remembered consents, newest first: not expired, given under this store
   * epoch, and after any revocation of everything of the person or of the client (revokeEverything).
   * The others are removed on the way.
   */
  async listConsents(sub: string): Promise<RememberedConsent[]> {
    const stored = await this.storedConsents(sub);
    if (stored.length === 0) return [];
    const clientIds = [...new Set(stored.flatMap(([, consent]) => (consent ? [consent.clientId] : [])))];
    const [epoch, personBefore, ...clientBefore] = await this.redis.mget<(string | null)[]>(
      key.epoch(),
      key.revokedBefore("sub", sub),
      ...clientIds.map((clientId) => key.revokedBefore("client", clientId)),
    );
    const before = (value: string | null | undefined) => (value == null ? -1 : Number(value));
    const now = Date.now();
    const live: RememberedConsent[] = [];
    const ended: string[] = [];
    for (const [id, consent] of stored) {
      const given = consent ? Math.floor(consent.rememberedAt / 1000) : 0;
      const valid =
        consent !== null &&
        consent.expiresAt > now &&
        epoch != null &&
        consent.epoch === epoch &&
        given > before(personBefore) &&
        given > before(clientBefore[clientIds.indexOf(consent.clientId)]);
      if (valid) live.push(consent);
      else ended.push(id);
    }
    if (ended.length) await this.redis.hdel(key.consents(sub), ...ended);
    return live.sort((a, b) => b.rememberedAt - a.rememberedAt);
  }

  /** Remembers a consent, replacing whatever the person had remembered for the same client, in one step. */
  async rememberConsent(sub: string, consent: Omit<RememberedConsent, "epoch">): Promise<void> {
    const stamped: RememberedConsent = { ...consent, epoch: await this.currentEpoch() };
    const replaced = (await this.storedConsents(sub)).flatMap(([id, old]) =>
      old === null || old.clientId === consent.clientId ? [id] : [],
    );
    await this.rememberConsentScript.exec(
      [key.consents(sub)],
      [
        consent.id,
        await this.values.encode(consentValueKey(sub, consent.id), stamped),
        String(ttl(consent.expiresAt - Date.now())),
        ...replaced,
      ],
    );
  }

  /** Forgets one remembered consent of the person; false when they have none of that id. */
  async forgetConsent(sub: string, id: string): Promise<boolean> {
    return (await this.redis.hdel(key.consents(sub), id)) === 1;
  }

  /** Forgets whatever the person remembered for a client (when its grant is revoked). */
  private async forgetClientConsents(sub: string, clientId: string): Promise<void> {
    const ids = (await this.storedConsents(sub)).flatMap(([id, consent]) =>
      consent?.clientId === clientId ? [id] : [],
    );
    if (ids.length) await this.redis.hdel(key.consents(sub), ...ids);
  }

  // ── Revocation of access tokens (RFC 7009) ──────────────────────────────────────────────

  /** Remembers a revoked `jti` until the token would have expired anyway. */
  async revokeJti(jti: string, expiresAtSec: number): Promise<void> {
    const remaining = expiresAtSec * 1000 - Date.now();
    if (remaining > 0) await this.redis.set(key.revokedJti(jti), "1", { px: ttl(remaining) });
  }

  /**
   * Is the token's `jti`, or the refresh family it came from, revoked, or its client or person
   * revoked wholesale at or after the second it was issued (revokeEverything), or was it issued
   * under an epoch that is not the store's (a store that lost its data no longer knows what was revoked)?
   * Asked on every use of a token; concurrent questions share one MGET (batched-lookups.ts), which
   * reads the epoch too. An answer of the wrong length counts as revoked.
   */
  async isRevoked(token: RevocationSubject): Promise<Revocation> {
    const markers = [key.revokedBefore("client", token.client_id), key.revokedBefore("sub", token.sub)];
    const keys = [
      key.revokedJti(token.jti),
      ...(token.fam ? [key.familyRevoked(token.fam)] : []),
      ...markers,
      key.epoch(),
    ];
    const values = await this.revocationLookups.lookup(keys);
    if (values.length !== keys.length) return "revoked";
    if (!(await this.isCurrentEpoch(token.ep, values.at(-1) ?? null))) return "unknown-epoch";
    const revokedBefore = values.slice(-3, -1).map((value) => (value === null ? -1 : Number(value)));
    if (revokedBefore.some((before) => !(token.iat > before))) return "revoked";
    return values.slice(0, -3).some((value) => value !== null) ? "revoked" : false;
  }

  // ── Login sessions, pending interactions, registered clients ───────────────────────────

  saveSession = (sid: string, value: unknown, ttlMs: number) => this.putJson(key.session(sid), value, ttlMs);
  getSession = <T>(sid: string) => this.getJson<T>(key.session(sid));
  deleteSession = (sid: string) => this.redis.del(key.session(sid)).then(() => undefined);

  /** A sign-out waiting for the person's confirmation (RP-Initiated Logout 1.0 §2). */
  saveLogout = (id: string, value: unknown, ttlMs: number) => this.putJson(key.logout(id), value, ttlMs);
  /** Reads and removes in one step, so a confirmation is answered at most once. */
  takeLogout = async <T>(id: string): Promise<T | null> => {
    const k = key.logout(id);
    return this.values.decode<T>(k, await this.redis.getdel<string>(k));
  };

  saveInteraction = (id: string, value: unknown, ttlMs: number) => this.putJson(key.interaction(id), value, ttlMs);
  getInteraction = <T>(id: string) => this.getJson<T>(key.interaction(id));
  /** Reads and removes in one step, so an interaction completes at most once. */
  takeInteraction = async <T>(id: string): Promise<T | null> => {
    const k = key.interaction(id);
    return this.values.decode<T>(k, await this.redis.getdel<string>(k));
  };

  saveClient = (clientId: string, value: unknown, ttlMs: number) => this.putJson(key.client(clientId), value, ttlMs);
  getClient = <T>(clientId: string) => this.getJson<T>(key.client(clientId));

  /**
   * The user's claims as of their last login, for /userinfo (OIDC Core §5.3), which releases
   * from them only what the access token's scopes allow.
   */
  saveUserClaims = (sub: string, claims: Record<string, unknown>, ttlMs: number) =>
    this.putJson(key.userClaims(sub), claims, ttlMs);
  getUserClaims = (sub: string) => this.getJson<Record<string, unknown>>(key.userClaims(sub));

  /** True the first time `id` is claimed in `scope` within `ttlMs` (e.g. client assertion `jti`s). */
  async claimOnce(scope: string, id: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(key.once(scope, id), "1", { px: ttl(ttlMs), nx: true })) === "OK";
  }

  cacheGet = <T>(name: string) => this.getJson<T>(key.cache(name));
  cacheSet = (name: string, value: unknown, ttlMs: number) => this.putJson(key.cache(name), value, ttlMs);

  private async putJson(k: string, value: unknown, ttlMs: number): Promise<void> {
    await this.redis.set(k, await this.values.encode(k, value), { px: ttl(ttlMs) });
  }

  private async getJson<T>(k: string): Promise<T | null> {
    return this.values.decode<T>(k, await this.redis.get<string>(k));
  }
}

/**
 * The store whose every operation either completes or throws StoreUnavailable: a timeout, a
 * network error or an error answer of the store all look the same to the endpoints.
 */
function failingAsUnavailable(store: Store): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || typeof property !== "string") return value;
      return (...args: unknown[]) => {
        const unavailable = (err: unknown): never => {
          throw err instanceof StoreUnavailable ? err : new StoreUnavailable(property, err);
        };
        try {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
          return result instanceof Promise ? result.catch(unavailable) : result;
        } catch (err) {
          return unavailable(err);
        }
      };
    },
  });
}

// One client per isolate and connection: clients are cheap but keep-alive connections are not.
let cached: { key: string; store: Store; connection: StoreConnection; operationTimeoutMs: number } | undefined;

export interface StoreOptions {
  /** Deadline of each operation, retries included (`oidcProvider.cache.operationTimeout`). */
  operationTimeoutMs: number;
}

export function openStore(connection: StoreConnection, options: StoreOptions = { operationTimeoutMs: 2_000 }): Store {
  // The configuration is parsed once per isolate, so every request hands over the same connection
  // object: known by identity, without serializing it (its encryption keys included) each time.
  if (cached?.connection === connection && cached.operationTimeoutMs === options.operationTimeoutMs)
    return cached.store;
  const cacheKey = JSON.stringify([connection, options]);
  if (cached?.key === cacheKey) {
    cached = { ...cached, connection };
    return cached.store;
  }
  const redis = new Redis({
    url: connection.url,
    token: connection.token,
    // Values are stored as the exact strings we write; no JSON guessing on the way back.
    automaticDeserialization: false,
    // Every value the store reads is a string it wrote itself: JSON, a sealed value (ASCII), a
    // hash or a number, all valid UTF-8, which a JSON answer carries as it is. Asking the service
    // to base64-encode every string of every answer (the client's default before 1.40) only made
    // the worker decode each one again (atob, a byte loop and a TextDecoder per string).
    responseEncoding: false,
    enableTelemetry: false,
    // Auto-pipelining builds a fresh Pipeline object for every batch, and each one creates a few
    // hundred command closures: measured (npm run bench) at ~40 % of a token exchange's CPU for
    // one EXISTS. Where commands belong together this module sends them in one request itself
    // (MULTI, MGET, EXISTS with several keys, Lua scripts).
    enableAutoPipelining: false,
    // Network errors only are retried, twice and quickly; the signal bounds the whole request,
    // retries included, and (being a function) makes an abort throw instead of answering "Aborted".
    retry: { retries: 2, backoff: (attempt) => 20 * 2 ** attempt },
    signal: () => AbortSignal.timeout(options.operationTimeoutMs),
  });
  const { encryption } = connection;
  const cipher = encryption ? new ValueCipher(encryption.keys, encryption.activeKey) : null;
  cached = {
    key: cacheKey,
    connection,
    operationTimeoutMs: options.operationTimeoutMs,
    store: failingAsUnavailable(new Store(redis, new StoredValues(cipher, encryption?.acceptPlaintext ?? false))),
  };
  return cached.store;
}
