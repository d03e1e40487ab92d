// Built-in users for local development, with salted PBKDF2-SHA256 password hashes
// (`npm run hash-password`). Production deployments log users in through an upstream IdP.
import { base64url } from "jose";
import { timingSafeEqualStrings } from "../../core/encoding.js";
import type { BuiltinUserConfig } from "../config-schema.js";

/** The Workers runtime caps PBKDF2 at 100,000 iterations. */
export const PBKDF2_ITERATIONS = 100_000;

export interface AuthenticatedUser {
  sub: string;
  claims: Record<string, unknown>;
  /** How the user proved who they are (`pwd` or `upstream`), for amr-style auditing. */
  method: "pwd" | "upstream";
}

export async function pbkdf2(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
  return base64url.encode(new Uint8Array(bits));
}

export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  return `pbkdf2-sha256$${iterations}$${base64url.encode(salt)}$${await pbkdf2(password, salt, iterations)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [, iterations, salt, hash] = stored.split("$");
  const rounds = Number(iterations);
  if (!salt || !hash || !Number.isInteger(rounds) || rounds < 1 || rounds > PBKDF2_ITERATIONS) return false;
  return timingSafeEqualStrings(
    await pbkdf2(password, base64url.decode(salt) as Uint8Array<ArrayBuffer>, rounds),
    hash,
  );
}

// Compared against when the username is unknown, so timing does not reveal which names exist.
const DUMMY_HASH = "pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

export async function authenticateBuiltinUser(
  users: BuiltinUserConfig[],
  username: string,
  password: string,
): Promise<AuthenticatedUser | null> {
  const user = users.find((u) => u.username === username);
  const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
  if (!user || !ok) return null;
  return {
    sub: user.sub ?? user.username,
    claims: { preferred_username: user.username, ...user.claims },
    method: "pwd",
  };
}
