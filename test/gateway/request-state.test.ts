// The gateway's signed `requestState` (src/gateway/mcp/request-state.ts; MCP 2026-07-28
// basic/patterns/mrtr, "Server Requirements": state is attacker-controlled input, integrity
// protected, and refused when verification fails). Pure rules, no runtime.
import { describe, expect, it } from "vitest";
import { RequestStateCodec, stateSecret, type StatePayload } from "../../src/gateway/mcp/request-state.js";

const codec = new RequestStateCodec(stateSecret({ GATEWAY_SECRET: "s".repeat(40) }, () => "unused"));
const bound = { p: "alice", m: "tools/call", n: "app__tool" };
const payload: StatePayload = { ...bound, r: 1, exp: 2_000, k: "upstream", s: "upstream-state" };

async function refusal(state: unknown, expected = bound, now = 1_000): Promise<string> {
  try {
    await codec.verify(state, expected, now);
  } catch (err) {
    expect(err).toMatchObject({ code: -32602 });
    return (err as Error).message;
  }
  throw new Error("accepted");
}

describe("request state", () => {
  it("round-trips what it minted for the same principal and request", async () => {
    expect(await codec.verify(await codec.mint(payload), bound, 1_000)).toEqual(payload);
  });

  it("refuses a state past its expiry", async () => {
    expect(await refusal(await codec.mint(payload), bound, 2_000)).toContain("expired");
  });

  it("refuses another principal's state, and a state for another request", async () => {
    const state = await codec.mint(payload);
    expect(await refusal(state, { ...bound, p: "mallory" })).toContain("another principal");
    expect(await refusal(state, { ...bound, n: "app__other" })).toContain("another request");
    expect(await refusal(state, { ...bound, m: "prompts/get" })).toContain("another request");
  });

  it("refuses a changed payload, a changed tag, and things that are no state at all", async () => {
    const state = await codec.mint(payload);
    const [body, tag] = state.split(".") as [string, string];
    const forgedBody = Buffer.from(JSON.stringify({ ...payload, p: "alice", exp: 9e15 })).toString("base64url");
    expect(await refusal(`${forgedBody}.${tag}`)).toContain("verification");
    expect(await refusal(`${body}.${tag.slice(1)}A`)).toMatch(/verification|issued/);
    for (const junk of ["", "x", `${state}.more`, 42, null, `${body}.!!`, "a".repeat(20_000)])
      expect(await refusal(junk)).toMatch(/issued|verification/);
  });

  it("refuses a state minted under another key (another gateway's secrets)", async () => {
    const other = new RequestStateCodec(stateSecret({ GATEWAY_SECRET: "t".repeat(40) }, () => "unused"));
    expect(await refusal(await other.mint(payload))).toContain("verification");
  });
});
