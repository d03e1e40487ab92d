// npm run bench: performance figures of the hot paths (issue "Performance").
// The scenarios arrive with the tiers they measure; until then this prints what it would cover.
const scenarios = [
  "crypto limit: JWT sign + verify per second in workerd",
  "token exchange: req/s and latency at concurrency 1, 16, 64",
  "gateway tool call: added latency, exchange cache cold and warm",
  "agent burst: 20 sessions x 50 tool calls",
  "policy evaluation time per call",
  "session creation rate and storage bytes per session",
];
console.log("No benchmark scenarios are implemented yet. Planned:");
for (const s of scenarios) console.log(`  - ${s}`);
