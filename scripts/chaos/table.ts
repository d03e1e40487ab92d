// The drill's table, in Markdown so that it reads in a terminal and pastes into docs as it is:
// one row a fault, with what agents saw, the calls that failed, the audit events lost, the time to
// recover, and each target with PASS or FAIL.
import type { DrillRow } from "./drill-window.js";

const HEADER = ["fault", "what agents saw", "calls failed", "events lost", "time to recover", "targets"];

const cell = (text: string) => text.replace(/\|/g, "\\|");

export function formatTable(rows: DrillRow[]): string {
  const lines = [HEADER, HEADER.map(() => "---")].map((cells) => `| ${cells.join(" | ")} |`);
  for (const row of rows) {
    const targets = row.targets.map((t) => `${t.pass ? "PASS" : "FAIL"} ${t.text}`).join("; ");
    lines.push(
      `| ${[row.fault, row.saw, row.callsFailed, row.eventsLost, row.recover, targets].map(cell).join(" | ")} |`,
    );
  }
  return lines.join("\n");
}

export const allPass = (rows: DrillRow[]) => rows.every((row) => row.targets.every((t) => t.pass));
