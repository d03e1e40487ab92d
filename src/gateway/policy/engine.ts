// Evaluates bundled OPA policies with @open-policy-agent/opa-wasm, failing closed.
//
// Lifecycle: the runtime compiled each policy.wasm when it loaded the worker; the engine makes
// one instance per policy per isolate, on first use, and loads the policy's data into it once.
//
// Isolation between calls: the SDK's `evaluate` is synchronous and begins by resetting the
// instance's heap to just after the data document, then writes this call's input there. JS
// runs one thing at a time in an isolate, so no evaluation can start while another is running,
// and none can see another's input: concurrent requests cost nothing and share nothing. An
// instance that threw (a trap, opa_abort) is dropped, and the next call gets a fresh one.
//
// Time limits: a running wasm function cannot be interrupted from JS. Rego has no unbounded
// recursion or loops, so compiled policies terminate; a pathological one is stopped by the
// platform's CPU limit, which ends the request before any token exchange or upstream call,
// i.e. closed. (Clocks do not advance during synchronous work in workerd, so an after-the-fact
// timer could not measure it either.)
import { loadPolicy, type LoadedPolicy } from "@open-policy-agent/opa-wasm";
import { log } from "../../core/log.js";
import { DENIED_MESSAGE, readDecision, type PolicyDecision } from "./decision.js";
import type { PolicyRegistry } from "./registry.js";

/** Which policy, and which of its entrypoints (default: its only one). */
export interface PolicyRef {
  name: string;
  entrypoint?: string | undefined;
}

export type PolicyFailure = "missing" | "broken" | "entrypoint" | "evaluation";

/** A policy that could not answer; `failure` says at which step. */
export class PolicyError extends Error {
  constructor(
    readonly policy: string,
    readonly failure: PolicyFailure,
    message: string,
  ) {
    super(message);
    this.name = "PolicyError";
  }
}

/**
 * Linear memory per instance, in 64 KiB pages. The SDK's default start (5) fits `opa build`
 * output of ordinary size; a module whose static data needs more is retried with RETRY_PAGES.
 * The maximum bounds what a runaway evaluation can take from the isolate (128 MB on Workers).
 */
const INITIAL_PAGES = 5;
const RETRY_PAGES = 128;
const MAXIMUM_PAGES = 512;

/** What the SDK and the module throw: Errors, and plain strings from opa_abort. */
function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

async function instantiate(module: WebAssembly.Module): Promise<LoadedPolicy> {
  try {
    return await loadPolicy(module, { initial: INITIAL_PAGES, maximum: MAXIMUM_PAGES });
  } catch (err) {
    // A memory import larger than the memory offered is a LinkError; nothing else is retried.
    if (!(err instanceof Error && err.name === "LinkError")) throw err;
    return loadPolicy(module, { initial: RETRY_PAGES, maximum: MAXIMUM_PAGES });
  }
}

export class PolicyEngine {
  /** One instance per policy name in this isolate (or its load failure, which is permanent). */
  private readonly instances = new Map<string, Promise<LoadedPolicy>>();

  constructor(private readonly registry: PolicyRegistry) {}

  private instance(name: string): Promise<LoadedPolicy> {
    let instance = this.instances.get(name);
    if (!instance) {
      instance = this.load(name);
      this.instances.set(name, instance);
    }
    return instance;
  }

  private async load(name: string): Promise<LoadedPolicy> {
    const bundled = this.registry.get(name);
    if (!bundled) {
      const names = this.registry.names();
      const error = new PolicyError(
        name,
        "missing",
        `no policy named "${name}" is in the worker bundle (bundled: ${names.length ? names.join(", ") : "none"}); build it with npm run policy:build and deploy again`,
      );
      log("error", "policy.unavailable", { policy: name, failure: error.failure, error: error.message });
      throw error;
    }
    try {
      const policy = await instantiate(bundled.wasm);
      if (bundled.data !== undefined) policy.setData(bundled.data as object);
      return policy;
    } catch (err) {
      const error = new PolicyError(name, "broken", `policy "${name}" cannot be loaded: ${describe(err)}`);
      log("error", "policy.unavailable", { policy: name, failure: error.failure, error: error.message });
      throw error;
    }
  }

  /** The entrypoint to evaluate: the configured one, or the policy's only one. */
  private entrypointOf(policy: LoadedPolicy, ref: PolicyRef): string {
    const available = Object.keys(policy.entrypoints as Record<string, number>);
    if (ref.entrypoint !== undefined) {
      if (available.includes(ref.entrypoint)) return ref.entrypoint;
      throw new PolicyError(
        ref.name,
        "entrypoint",
        `policy "${ref.name}" has no entrypoint "${ref.entrypoint}" (it has: ${available.join(", ") || "none"})`,
      );
    }
    if (available.length === 1) return available[0]!;
    throw new PolicyError(
      ref.name,
      "entrypoint",
      `policy "${ref.name}" has ${available.length} entrypoints (${available.join(", ")}); name one in authorization.inbound.opa.entrypoint`,
    );
  }

  /** Loads the policy and resolves its entrypoint, or throws PolicyError: what /status reports. */
  async check(ref: PolicyRef): Promise<{ entrypoint: string }> {
    return { entrypoint: this.entrypointOf(await this.instance(ref.name), ref) };
  }

  /** The raw result set of one evaluation, or PolicyError. */
  async evaluate(ref: PolicyRef, input: unknown): Promise<unknown> {
    const instance = this.instance(ref.name);
    const policy = await instance;
    const entrypoint = this.entrypointOf(policy, ref);
    try {
      return policy.evaluate(input, entrypoint);
    } catch (err) {
      // After a trap the module's globals may be mid-update: start the next call afresh.
      if (this.instances.get(ref.name) === instance) this.instances.delete(ref.name);
      const error = new PolicyError(ref.name, "evaluation", `policy "${ref.name}" failed: ${describe(err)}`);
      log("error", "policy.evaluation_failed", { policy: ref.name, error: error.message });
      throw error;
    }
  }

  /** The policy's decision. Never throws: whatever goes wrong is a deny that says why. */
  async decide(ref: PolicyRef, input: unknown): Promise<PolicyDecision> {
    try {
      const decision = readDecision(await this.evaluate(ref, input));
      if (!decision.allowed && decision.externalMessage === undefined) decision.externalMessage = DENIED_MESSAGE;
      return { ...decision, policy: ref.name };
    } catch (err) {
      return {
        allowed: false,
        externalMessage: DENIED_MESSAGE,
        reason: err instanceof Error ? err.message : String(err),
        policy: ref.name,
      };
    }
  }
}
