// What the load generator (Node) and the bench worker (workerd) say to each other.

export interface CryptoRequest {
  alg: "ES256" | "EdDSA";
  /** jose: the auth tier's code; subtle: bare WebCrypto on the same signing input. */
  impl: "jose" | "subtle";
  /** pair = one sign and one verify; sign or verify alone (jose: verify what `prepare` minted). */
  mode: "pair" | "sign" | "verify" | "prepare";
  n: number;
}

/** `n` requests through the AUTH binding, `concurrency` at a time, each answer read whole. */
export interface BindingLoopRequest {
  concurrency: number;
  n: number;
  url: string;
  method: "GET" | "POST";
  headers: Record<string, string>;
  /** Request bodies, used in turn (e.g. a different subject token for every exchange). */
  bodies?: string[];
}

export interface BindingLoopResult {
  ok: number;
  errors: number;
  firstError?: string;
}

/** `n` POSTs of `body` to `url`, one after the other, each timed by the bench worker. */
export interface RoundTripRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  n: number;
}
