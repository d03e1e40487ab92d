// Signing keys: a JWK set with private keys in the SIGNING_KEYS secret (`npm run keys` makes one).
// Every key is published at /jwks; the newest active one signs, older ones keep verifying what
// they signed, so keys rotate without downtime: add a key with a future `activeFrom`, wait for
// caches to pick it up, let it become active, drop the old key after its tokens have expired.
import { importJWK, type JWK } from "jose";

export type SigningAlgorithm = "ES256" | "EdDSA";

export interface PrivateJwk extends JWK {
  kid: string;
  alg: SigningAlgorithm;
  /** Unix seconds from which the key may sign; absent = always. Not part of the published JWK. */
  activeFrom?: number;
}

export interface KeyRing {
  /** The key that signs now. */
  signer: { kid: string; alg: SigningAlgorithm; key: CryptoKey };
  /** Every key by `kid`, for verifying tokens signed by this provider. */
  verifiers: Map<string, { alg: SigningAlgorithm; key: CryptoKey }>;
  /** The public JWK set served at /jwks. */
  publicJwks: { keys: JWK[] };
}

const PRIVATE_MEMBERS = new Set(["d", "p", "q", "dp", "dq", "qi", "k", "activeFrom", "key_ops", "ext"]);

export function publicJwk(jwk: PrivateJwk): JWK {
  const pub: JWK = { use: "sig" };
  for (const [name, value] of Object.entries(jwk))
    if (!PRIVATE_MEMBERS.has(name)) (pub as Record<string, unknown>)[name] = value;
  return pub;
}

/** The key that should sign at `nowSec`: the newest whose `activeFrom` has passed. */
export function pickSigner(keys: PrivateJwk[], nowSec: number): PrivateJwk | undefined {
  return keys
    .filter((k) => (k.activeFrom ?? 0) <= nowSec)
    .reduce<PrivateJwk | undefined>(
      (best, k) => (!best || (k.activeFrom ?? 0) > (best.activeFrom ?? 0) ? k : best),
      undefined,
    );
}

// Importing keys is the costly part; do it once per isolate and key set.
let cached: { raw: string; ring: Promise<KeyRing> } | undefined;

export function loadKeyRing(raw: string, keys: PrivateJwk[], nowSec = Math.floor(Date.now() / 1000)): Promise<KeyRing> {
  const signerJwk = pickSigner(keys, nowSec);
  if (cached?.raw === raw) {
    return cached.ring.then((ring) => (ring.signer.kid === signerJwk?.kid ? ring : buildRing(keys, signerJwk)));
  }
  const ring = buildRing(keys, signerJwk);
  cached = { raw, ring };
  ring.catch(() => {
    if (cached?.ring === ring) cached = undefined;
  });
  return ring;
}

async function buildRing(keys: PrivateJwk[], signerJwk: PrivateJwk | undefined): Promise<KeyRing> {
  if (!signerJwk) throw new Error("no signing key is active yet");
  const verifiers = new Map<string, { alg: SigningAlgorithm; key: CryptoKey }>();
  let signer: KeyRing["signer"] | undefined;
  for (const jwk of keys) {
    const { activeFrom: _ignored, ...material } = jwk;
    const privateKey = (await importJWK(material, jwk.alg)) as CryptoKey;
    const publicKey = (await importJWK(publicJwk(jwk), jwk.alg)) as CryptoKey;
    verifiers.set(jwk.kid, { alg: jwk.alg, key: publicKey });
    if (jwk.kid === signerJwk.kid) signer = { kid: jwk.kid, alg: jwk.alg, key: privateKey };
  }
  return { signer: signer!, verifiers, publicJwks: { keys: keys.map(publicJwk) } };
}
