// The codec of Redis encryption at rest (src/auth/store/value-encryption.ts), as pure logic in Node's
// WebCrypto: what is sealed under one key name opens under that name only, with any listed key,
// and nothing else opens at all.
import { describe, expect, it, vi } from "vitest";
import { authConfigSchema } from "../../src/auth/config-schema.js";
import {
  decodeValueKey,
  generateValueKey,
  keyKind,
  StoredValues,
  ValueCipher,
} from "../../src/auth/store/value-encryption.js";
import { parseConfig } from "../../src/core/config-loader.js";

const A = { id: "a", secret: generateValueKey() };
const B = { id: "b", secret: generateValueKey() };
const SESSION = "aig:session:abc";

describe("sealing a value", () => {
  it("writes enc:v1:<kid>:<iv>.<ciphertext> with none of the plaintext in it", async () => {
    const sealed = await new ValueCipher([A]).seal(SESSION, '{"username":"alice"}');
    expect(sealed).toMatch(/^enc:v1:a:[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain("alice");
  });

  it("uses a fresh IV for every value: the same plaintext twice seals differently", async () => {
    const cipher = new ValueCipher([A]);
    const [x, y] = await Promise.all([cipher.seal(SESSION, "{}"), cipher.seal(SESSION, "{}")]);
    expect(x).not.toBe(y);
    expect(x.split(":")[3]!.split(".")[0]).not.toBe(y.split(":")[3]!.split(".")[0]);
  });

  it("encrypts with the first key, or the configured active key", async () => {
    expect(await new ValueCipher([A, B]).seal(SESSION, "{}")).toMatch(/^enc:v1:a:/);
    expect(await new ValueCipher([A, B], "b").seal(SESSION, "{}")).toMatch(/^enc:v1:b:/);
  });
});

describe("opening a value", () => {
  it("gives back the plaintext under the same key name", async () => {
    const cipher = new ValueCipher([A]);
    expect(await cipher.open(SESSION, await cipher.seal(SESSION, '{"x":"ü"}'))).toEqual({
      ok: true,
      plaintext: '{"x":"ü"}',
    });
  });

  it("opens values of every listed key after rotation: A's values still read once B is active", async () => {
    const before = await new ValueCipher([A]).seal(SESSION, "old");
    const after = new ValueCipher([B, A]);
    expect(await after.open(SESSION, before)).toEqual({ ok: true, plaintext: "old" });
    expect(await after.seal(SESSION, "new")).toMatch(/^enc:v1:b:/);
  });

  it("refuses a value moved under another key name (the name is authenticated data)", async () => {
    const cipher = new ValueCipher([A]);
    const sealed = await cipher.seal("aig:session:victim", "{}");
    expect(await cipher.open("aig:session:attacker", sealed)).toEqual({ ok: false, reason: "not_authentic", kid: "a" });
  });

  it("refuses a value under a key id no longer listed", async () => {
    const sealed = await new ValueCipher([A]).seal(SESSION, "{}");
    expect(await new ValueCipher([B]).open(SESSION, sealed)).toEqual({ ok: false, reason: "unknown_key", kid: "a" });
  });

  it("refuses a value whose key id was relabelled, or whose key material changed under the same id", async () => {
    const sealed = await new ValueCipher([A]).seal(SESSION, "{}");
    expect(await new ValueCipher([A, B]).open(SESSION, sealed.replace("enc:v1:a:", "enc:v1:b:"))).toMatchObject({
      ok: false,
      reason: "not_authentic",
    });
    expect(await new ValueCipher([{ id: "a", secret: generateValueKey() }]).open(SESSION, sealed)).toMatchObject({
      ok: false,
      reason: "not_authentic",
    });
  });

  it("refuses a tampered ciphertext and malformed values without throwing", async () => {
    const cipher = new ValueCipher([A]);
    const sealed = await cipher.seal(SESSION, '{"sub":"alice"}');
    const last = sealed.at(-2) === "A" ? "B" : "A";
    expect(await cipher.open(SESSION, sealed.slice(0, -2) + last + sealed.at(-1))).toMatchObject({
      ok: false,
      reason: "not_authentic",
    });
    for (const bad of [
      "enc:v1:a:",
      "enc:v2:a:AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAA",
      "enc:v1:a:short.AAAAAAAAAAAAAAAAAAAAAAAA",
      "enc:v1:a:AAAAAAAAAAAAAAAA.AAAA",
    ]) {
      expect(await cipher.open(SESSION, bad)).toMatchObject({ ok: false, reason: "malformed" });
    }
  });
});

describe("key material", () => {
  it("is exactly 32 bytes of base64url", () => {
    expect(decodeValueKey(generateValueKey())).toHaveLength(32);
    expect(decodeValueKey(Buffer.alloc(31).toString("base64url"))).toBeNull();
    expect(decodeValueKey(Buffer.alloc(33).toString("base64url"))).toBeNull();
    expect(decodeValueKey("not base64 at all!")).toBeNull();
  });

  it("refuses a ring with a short key, duplicate ids or an active key not listed", () => {
    expect(() => new ValueCipher([{ id: "a", secret: "c2hvcnQ" }])).toThrow(/32 bytes/);
    expect(() => new ValueCipher([A, { ...B, id: "a" }])).toThrow(/distinct/);
    expect(() => new ValueCipher([A], "b")).toThrow(/active key/);
  });
});

describe("stored values (what the store reads back)", () => {
  it("treats plaintext as absent unless migration reads are on", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const cipher = new ValueCipher([A]);
      expect(await new StoredValues(cipher).decode(SESSION, '{"sub":"alice"}')).toBeNull();
      expect(await new StoredValues(cipher, true).decode(SESSION, '{"sub":"alice"}')).toEqual({ sub: "alice" });
      expect(JSON.parse(warn.mock.calls[0]![0] as string)).toMatchObject({
        event: "store.value_unreadable",
        kind: "session",
        reason: "plaintext",
      });
    } finally {
      warn.mockRestore();
    }
  });

  it("logs an unreadable value by key id and key kind, never by value or key name", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      const sealed = await new StoredValues(new ValueCipher([A])).encode("aig:session:secret-session-id", {
        sub: "alice",
      });
      expect(await new StoredValues(new ValueCipher([B])).decode("aig:session:secret-session-id", sealed)).toBeNull();
      const line = warn.mock.calls[0]![0] as string;
      expect(JSON.parse(line)).toMatchObject({
        level: "warn",
        event: "store.value_unreadable",
        kind: "session",
        kid: "a",
        reason: "unknown_key",
      });
      expect(line).not.toContain("secret-session-id");
      expect(line).not.toContain(sealed.split(".")[1]);
    } finally {
      warn.mockRestore();
    }
  });

  it("round-trips JSON with encryption off, as before", async () => {
    const values = new StoredValues(null);
    expect(await values.encode(SESSION, { a: [] })).toBe('{"a":[]}');
    expect(await values.decode(SESSION, '{"a":[]}')).toEqual({ a: [] });
    expect(await values.decode(SESSION, null)).toBeNull();
  });

  it("names key kinds from aig:<kind>:…", () => {
    expect(keyKind("aig:code-used:xyz")).toBe("code-used");
    expect(keyKind("aig:userinfo:alice")).toBe("userinfo");
    expect(keyKind("other")).toBe("unknown");
  });
});

describe("oidcProvider.cache.redis", () => {
  const parse = (redis: unknown) =>
    parseConfig(authConfigSchema, { oidcProvider: { discovery: { issuer: "https://a.example" }, cache: { redis } } });
  const key = (id: string) => ({ id, secret: { env: `KEY_${id.toUpperCase()}` } });

  it("still reads the former string form upstash, as no encryption", () => {
    expect(parse("upstash")).toMatchObject({ ok: true, config: { oidcProvider: { cache: { redis: {} } } } });
    expect(parse({})).toMatchObject({ ok: true, config: { oidcProvider: { cache: { redis: {} } } } });
  });

  it("takes keys, an optional active key, and plaintext reads off by default", () => {
    expect(parse({ encryption: { keys: [key("a"), key("b")], activeKey: "b" } })).toMatchObject({
      ok: true,
      config: {
        oidcProvider: {
          cache: { redis: { encryption: { keys: [key("a"), key("b")], activeKey: "b", acceptPlaintext: false } } },
        },
      },
    });
  });

  it("refuses no keys, duplicate ids, an active key not listed, a bad id, or a secret written inline", () => {
    const paths = (redis: unknown) => {
      const result = parse(redis);
      return result.ok ? [] : result.issues.map((i) => i.path);
    };
    expect(paths({ encryption: { keys: [] } })).toEqual(["oidcProvider.cache.redis.encryption.keys"]);
    expect(paths({ encryption: { keys: [key("a"), key("a")] } })).toEqual(["oidcProvider.cache.redis.encryption.keys"]);
    expect(paths({ encryption: { keys: [key("a")], activeKey: "b" } })).toEqual([
      "oidcProvider.cache.redis.encryption.activeKey",
    ]);
    expect(paths({ encryption: { keys: [{ id: "a:b", secret: { env: "K" } }] } })).toEqual([
      "oidcProvider.cache.redis.encryption.keys.0.id",
    ]);
    expect(paths({ encryption: { keys: [{ id: "a", secret: generateValueKey() }] } })).toEqual([
      "oidcProvider.cache.redis.encryption.keys.0.secret",
    ]);
  });
});
