// A short fingerprint of the configuration document a tier runs with, for GET /status: it tells
// at a glance whether two instances run the same configuration. Secrets are not part of the
// document (they come from the environment), so the digest reveals nothing.
import { sha256Base64Url } from "./encoding.js";

const digests = new Map<string, Promise<string>>();

export function configDigest(document: string): Promise<string> {
  let digest = digests.get(document);
  if (!digest) {
    digest = sha256Base64Url(document).then((hash) => `sha256:${hash.slice(0, 16)}`);
    digests.set(document, digest);
  }
  return digest;
}
