/**
 * Parsers for the /proc files the system sensor reads, in the kernel's exact
 * formats (Documentation/filesystems/proc.rst). Pure: text in, numbers out.
 *
 * @module
 */

/** `/proc/loadavg`: `0.52 0.58 0.59 1/467 12345`. */
export function parseLoadavg(text: string): { load1: number; load5: number; load15: number } {
  const [a, b, c] = text.trim().split(/\s+/).map(Number);
  if (![a, b, c].every(Number.isFinite)) {
    throw new Error(`unexpected /proc/loadavg format: "${text.trim()}"`);
  }
  return { load1: a, load5: b, load15: c };
}

/** `/proc/meminfo`: `MemTotal:  3884700 kB` lines → bytes by field name. */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line);
    if (m) out[m[1]] = Number(m[2]) * (line.trimEnd().endsWith("kB") ? 1024 : 1);
  }
  if (out.MemTotal === undefined) throw new Error("unexpected /proc/meminfo format: no MemTotal");
  return out;
}

/** `/proc/uptime`: `350735.47 234388.90` → seconds up. */
export function parseUptime(text: string): number {
  const up = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isFinite(up)) throw new Error(`unexpected /proc/uptime format: "${text.trim()}"`);
  return up;
}

/** CPU time counters from the aggregate `cpu` line of `/proc/stat`. */
export interface CpuTimes {
  /** All jiffies. */
  total: number;
  /** idle + iowait jiffies. */
  idle: number;
}

/** `/proc/stat` first line: `cpu  user nice system idle iowait irq softirq steal guest guest_nice`. */
export function parseCpuTimes(text: string): CpuTimes {
  const line = text.split("\n").find((l) => /^cpu\s/.test(l));
  if (!line) throw new Error("unexpected /proc/stat format: no aggregate cpu line");
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  if (v.length < 4 || !v.every(Number.isFinite)) throw new Error("unexpected /proc/stat cpu line");
  // guest and guest_nice are already counted in user and nice.
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = v[3] + (v[4] ?? 0);
  return { total, idle };
}

/** CPU busy percentage between two samples; undefined when no time passed. */
export function cpuPercent(before: CpuTimes, after: CpuTimes): number | undefined {
  const total = after.total - before.total;
  if (total <= 0) return undefined;
  const busy = total - (after.idle - before.idle);
  return Math.round((busy / total) * 1000) / 10;
}
