// The benchmark's output: one table row per figure, each beside the limit it is compared with
// (measured in the same run), PASS/FAIL where the issue sets a target, and the machine it ran on.
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";

export type Verdict = "PASS" | "FAIL";

export interface Row {
  scenario: string;
  measure: string;
  /** The figure: median (and p99 where there is a distribution). */
  result: string;
  /** What it is compared with, measured in the same run. */
  limit?: string;
  ratio?: string;
  target?: { text: string; verdict: Verdict };
}

export interface ScenarioResult {
  rows: Row[];
  /** Raw numbers for bench-results.json. */
  data: Record<string, unknown>;
  /** How the scenario measures, printed under its rows once. */
  notes?: string[];
}

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  workerd: string;
  miniflare: string;
  /** 1-minute load average before and after the run: other work on the machine skews figures. */
  loadBefore: number;
  loadAfter?: number;
}

export function describeMachine(versions: { workerd: string; miniflare: string }): Machine {
  let cpu = cpus()[0]?.model ?? "unknown";
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? cpu;
  } catch {
    // Not Linux: os.cpus() named it.
  }
  return { cores: cpus().length, cpu, node: process.version, ...versions, loadBefore: loadavg()[0]! };
}

export const rate = (perSecond: number, unit = "/s") => `${Math.round(perSecond).toLocaleString("en-US")}${unit}`;
export const ms = (value: number) => (value < 10 ? `${value.toFixed(2)} ms` : `${value.toFixed(1)} ms`);
/** What one figure adds to another, signed: "+0.42 ms", "−0.05 ms". */
export const msAdded = (value: number) => `${value < 0 ? "−" : "+"}${ms(Math.abs(value))}`;
export const us = (value: number) => `${value.toFixed(1)} µs`;
export const percent = (value: number) => `${(value * 100).toFixed(0)} %`;

export function verdict(pass: boolean): Verdict {
  return pass ? "PASS" : "FAIL";
}

const COLUMNS = [
  "scenario",
  "measurement",
  "result (median / p99)",
  "compared with (same run)",
  "ratio",
  "target",
] as const;

function cells(row: Row): string[] {
  return [
    row.scenario,
    row.measure,
    row.result,
    row.limit ?? "",
    row.ratio ?? "",
    row.target ? `${row.target.verdict}  ${row.target.text}` : "",
  ];
}

/** A plain-text table (what the terminal shows). */
export function formatTable(rows: Row[]): string {
  const all = [COLUMNS as readonly string[], ...rows.map(cells)];
  const widths = COLUMNS.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(all[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...all.slice(1).map(line)].join("\n");
}

/** The same table in Markdown, for docs/performance.md. */
export function formatMarkdown(rows: Row[], machine: Machine): string {
  const escape = (cell: string) => cell.replace(/\|/g, "\\|");
  return [
    `Machine: ${machine.cores} cores, ${machine.cpu}; Node ${machine.node}; workerd ${machine.workerd} (Miniflare ${machine.miniflare}); load average ${machine.loadBefore.toFixed(2)} before, ${machine.loadAfter?.toFixed(2) ?? "?"} after.`,
    "",
    `| ${COLUMNS.join(" | ")} |`,
    `|${COLUMNS.map(() => "---").join("|")}|`,
    ...rows.map((row) => `| ${cells(row).map(escape).join(" | ")} |`),
  ].join("\n");
}

export function machineLine(machine: Machine): string {
  return `${machine.cores} cores, ${machine.cpu}, Node ${machine.node}, workerd ${machine.workerd} (Miniflare ${machine.miniflare}), load average ${machine.loadBefore.toFixed(2)}`;
}
