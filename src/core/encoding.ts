// Random values, digests and comparisons shared by both tiers, base64url-encoded (RFC 4648 §5,
// without padding) by jose's `base64url`, the encoder the tiers' JOSE code already relies on.
import { base64url } from "jose";

/** 256 random bits, base64url: for ids, codes, tokens and CSRF values nobody can guess. */
export function randomToken(bytes = 32): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));
}

const encoder = new TextEncoder();

export async function sha256Base64Url(text: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text))));
}

/** Constant-time comparison of two strings (by their SHA-256, so lengths leak nothing). */
export async function timingSafeEqualStrings(a: string, b: string): Promise<boolean> {
  const [ha, hb] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  const x = new Uint8Array(ha);
  const y = new Uint8Array(hb);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/**
 * Constant-time comparison of two strings whose length is no secret, such as two SHA-256 digests
 * in base64url or a digest and a PKCE challenge: no hashing (timingSafeEqualStrings hashes both
 * sides, two digests per comparison); strings of different lengths are unequal at once.
 */
export function timingSafeEqualSameLength(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
