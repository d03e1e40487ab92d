// Encryption at rest of the values the auth tier keeps in Redis (docs/auth-tier.md, "Redis
// encryption at rest"): AES-256-GCM (NIST SP 800-38D) through WebCrypto, a fresh random 96-bit IV for every
// value written, the key id inside every value so keys rotate without a flag day (the active key
// encrypts, every listed key decrypts), and the Redis key name as additional authenticated data,
// so a value copied under another key name does not decrypt.
//
// A stored value is one ASCII string:
//
//   enc:v1:<kid>:<iv>.<ciphertext>
//
//   kid         the configured key id, [A-Za-z0-9_-]{1,32}
//   iv          12 random bytes, base64url without padding (16 characters)
//   ciphertext  the AES-GCM output (ciphertext followed by the 16-byte tag), base64url
//   AAD         the UTF-8 bytes of "enc:v1:<kid>:" followed by the Redis key name
//
// Values that do not start with "enc:" were written as plain JSON (before encryption was switched
// on); whether they are still read is the caller's choice (StoredValues, below).
import { base64url } from "jose";
import { log } from "../../core/log.js";

export const SEALED_PREFIX = "enc:";
const VERSION = "v1";
const IV_BYTES = 12;
const KEY_BYTES = 32;
export const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const SEALED = /^enc:v1:([A-Za-z0-9_-]{1,32}):([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})$/;

/** Why a stored value could not be read. */
export type OpenFailure = "unknown_key" | "not_authentic" | "malformed";

export type OpenOutcome = { ok: true; plaintext: string } | { ok: false; reason: OpenFailure; kid?: string };

/** One configured key: its id and its 32 bytes, base64url (`npm run keys -- --redis-encryption`). */
export interface ValueKey {
  id: string;
  secret: string;
}

/** base64url (padding allowed, nothing else), or null when `text` is not. */
function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(text)) return null;
  try {
    return base64url.decode(text.replace(/=+$/, "")) as Uint8Array<ArrayBuffer>;
  } catch {
    return null;
  }
}

/** The key's 32 bytes, or null when `secret` is not base64url of exactly 32 bytes. */
export function decodeValueKey(secret: string): Uint8Array<ArrayBuffer> | null {
  const bytes = fromBase64Url(secret.trim());
  return bytes && bytes.length === KEY_BYTES ? bytes : null;
}

/** A new random key, base64url: what `npm run keys -- --redis-encryption` prints. */
export function generateValueKey(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(KEY_BYTES)));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

function aad(kid: string, redisKey: string): BufferSource {
  return encoder.encode(`${SEALED_PREFIX}${VERSION}:${kid}:${redisKey}`);
}

/** Seals and opens values with a key ring; pure (no Redis, no logging). */
export class ValueCipher {
  private imported: Promise<Map<string, CryptoKey>> | undefined;
  readonly activeKey: string;

  /** `activeKey` defaults to the first key; every key id must be distinct and each key 32 bytes. */
  constructor(
    private readonly keys: ValueKey[],
    activeKey?: string,
  ) {
    if (keys.length === 0) throw new Error("at least one key is required");
    const ids = new Set(keys.map((k) => k.id));
    if (ids.size !== keys.length) throw new Error("key ids must be distinct");
    for (const k of keys) {
      if (!KEY_ID.test(k.id)) throw new Error(`key id ${JSON.stringify(k.id)} is not [A-Za-z0-9_-]{1,32}`);
      if (!decodeValueKey(k.secret)) throw new Error(`key ${k.id} is not 32 bytes of base64url`);
    }
    this.activeKey = activeKey ?? keys[0]!.id;
    if (!ids.has(this.activeKey)) throw new Error(`the active key ${this.activeKey} is not among the keys`);
  }

  // Imported once per cipher (one per isolate and key set): importKey costs more than a seal.
  private cryptoKeys(): Promise<Map<string, CryptoKey>> {
    this.imported ??= Promise.all(
      this.keys.map(
        async (k) =>
          [
            k.id,
            await crypto.subtle.importKey("raw", decodeValueKey(k.secret)!, "AES-GCM", false, ["encrypt", "decrypt"]),
          ] as const,
      ),
    ).then((entries) => new Map(entries));
    return this.imported;
  }

  /** Encrypts `plaintext` for storage under the Redis key `redisKey`, with the active key. */
  async seal(redisKey: string, plaintext: string): Promise<string> {
    const kid = this.activeKey;
    const key = (await this.cryptoKeys()).get(kid)!;
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: aad(kid, redisKey), tagLength: 128 },
      key,
      encoder.encode(plaintext),
    );
    return `${SEALED_PREFIX}${VERSION}:${kid}:${base64url.encode(iv)}.${base64url.encode(new Uint8Array(sealed))}`;
  }

  /** Decrypts a value read from the Redis key `redisKey`; never throws for a bad value. */
  async open(redisKey: string, stored: string): Promise<OpenOutcome> {
    const match = SEALED.exec(stored);
    if (!match) return { ok: false, reason: "malformed" };
    const [, kid, ivText, ciphertextText] = match as unknown as [string, string, string, string];
    const key = (await this.cryptoKeys()).get(kid);
    if (!key) return { ok: false, reason: "unknown_key", kid };
    const iv = fromBase64Url(ivText);
    const ciphertext = fromBase64Url(ciphertextText);
    if (!iv || iv.length !== IV_BYTES || !ciphertext || ciphertext.length < 16)
      return { ok: false, reason: "malformed", kid };
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv, additionalData: aad(kid, redisKey), tagLength: 128 },
        key,
        ciphertext,
      );
      return { ok: true, plaintext: decoder.decode(plain) };
    } catch {
      return { ok: false, reason: "not_authentic", kid };
    }
  }
}

/** The kind of a Redis key (`aig:<kind>:…`), which is all a log line may say of it: the rest can be a secret (a session id). */
export function keyKind(redisKey: string): string {
  return /^aig:([a-z-]+):/.exec(redisKey)?.[1] ?? "unknown";
}

/**
 * JSON values as the store writes and reads them: sealed when a cipher is configured. A value
 * that cannot be read (unknown key id, failed authentication, plaintext where none is accepted,
 * sealed while encryption is off) is absent, and logged by key id and key kind, never by value.
 */
export class StoredValues {
  constructor(
    private readonly cipher: ValueCipher | null,
    /** Read plain-JSON values written before encryption was switched on (migration). */
    private readonly acceptPlaintext = false,
  ) {}

  async encode(redisKey: string, value: unknown): Promise<string> {
    const json = JSON.stringify(value);
    return this.cipher ? this.cipher.seal(redisKey, json) : json;
  }

  async decode<T>(redisKey: string, stored: string | null | undefined): Promise<T | null> {
    if (stored === null || stored === undefined || stored === "") return null;
    if (!stored.startsWith(SEALED_PREFIX)) {
      if (this.cipher && !this.acceptPlaintext) return this.unreadable(redisKey, "plaintext");
      return JSON.parse(stored) as T;
    }
    if (!this.cipher) return this.unreadable(redisKey, "encryption_off");
    const opened = await this.cipher.open(redisKey, stored);
    if (!opened.ok) return this.unreadable(redisKey, opened.reason, opened.kid);
    return JSON.parse(opened.plaintext) as T;
  }

  private unreadable(redisKey: string, reason: OpenFailure | "plaintext" | "encryption_off", kid?: string): null {
    log("warn", "store.value_unreadable", { kind: keyKind(redisKey), reason, ...(kid === undefined ? {} : { kid }) });
    return null;
  }
}
