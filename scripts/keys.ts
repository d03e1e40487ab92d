// npm run keys [-- --alg ES256|EdDSA] [-- --add '<existing SIGNING_KEYS json>'] [-- --active-in <seconds>]
// Prints a SIGNING_KEYS value (a private JWK set) for `wrangler secret put SIGNING_KEYS`.
// With --add, the new key joins an existing set, for rotation without downtime: publish it
// with --active-in (say 86400, longer than JWKS caches), and it starts signing after that.
//
// npm run keys -- --redis-encryption
// Prints one key for oidcProvider.cache.redis.encryption (32 random bytes, base64url) for
// `wrangler secret put <its env name>`; docs/auth-tier.md, "Redis encryption at rest" says how to rotate.
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { exportJWK, generateKeyPair } from "jose";
import { generateValueKey } from "../src/auth/store/value-encryption.js";

export type Algorithm = "ES256" | "EdDSA";

export async function generateSigningKey(algorithm: Algorithm, activeFrom = Math.floor(Date.now() / 1000)) {
  const { privateKey } = await generateKeyPair(algorithm, {
    extractable: true,
    ...(algorithm === "EdDSA" ? { crv: "Ed25519" } : {}),
  });
  return { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: algorithm, activeFrom };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values } = parseArgs({
    options: {
      alg: { type: "string", default: "ES256" },
      add: { type: "string" },
      "active-in": { type: "string", default: "0" },
      "redis-encryption": { type: "boolean", default: false },
    },
  });
  if (values["redis-encryption"]) {
    console.log(generateValueKey());
    process.exit(0);
  }
  if (values.alg !== "ES256" && values.alg !== "EdDSA") {
    console.error("--alg must be ES256 or EdDSA");
    process.exit(2);
  }
  const existing = values.add ? (JSON.parse(values.add) as { keys: unknown[] }).keys : [];
  const key = await generateSigningKey(values.alg, Math.floor(Date.now() / 1000) + Number(values["active-in"]));
  console.log(JSON.stringify({ keys: [...existing, key] }));
}
