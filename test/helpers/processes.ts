// The processes a test started, as any local user sees them in /proc: who descends from whom, and
// each one's command line. Linux only, as the machines that run these tests are.
import { readdirSync, readFileSync } from "node:fs";

/** Every process descended from `root`, `root` first (wrangler runs in process groups of its own, so by parentage). */
export function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found = [root];
  for (let i = 0; i < found.length; i++) {
    for (const [pid, parent] of parents) if (parent === found[i]) found.push(pid);
  }
  return found;
}

/** The command lines of `root` and its descendants that satisfy `match` (all by default). */
export function commandLines(
  root: number,
  match: (args: string[]) => boolean = () => true,
): { pid: number; args: string[] }[] {
  return descendants(root).flatMap((pid) => {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
      return match(args) ? [{ pid, args }] : [];
    } catch {
      return [];
    }
  });
}
