// The authorization response (RFC 6749 §4.1.2, errors §4.1.2.1): a redirect to the client's
// redirect URI with the code or the error, and always `iss` (RFC 9207), so a client talking to
// several authorization servers can tell which one answered. Sent by /authorize (an error before
// the user is involved) and by the login and consent pages (the code, or the user's refusal).

/** A 303 to `redirectUri` with `params` (those that are set) and `iss` added to its query. */
export function authorizationRedirect(
  issuer: string,
  redirectUri: string,
  params: Record<string, string | undefined>,
): Response {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries({ ...params, iss: issuer }))
    if (value !== undefined) url.searchParams.set(name, value);
  return new Response(null, { status: 303, headers: { Location: url.href, "Cache-Control": "no-store" } });
}
