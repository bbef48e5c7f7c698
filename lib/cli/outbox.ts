/**
 * `leaf outbox status`: what is waiting in the durable outbox. Opens the
 * database read-only, so it is safe to run next to `leaf run`.
 *
 * @module
 */
import { quoteArg } from "../log.ts";
import { EXIT, UsageError } from "../errors.ts";
import { loadConfig } from "../config/load.ts";
import { type OutboxStatus, readOutboxStatus } from "../outbox/status.ts";
import { parse } from "./_args.ts";

const HELP = `Usage: leaf outbox status [options]

Show the durable outbox: messages and bytes queued, the age of the oldest,
the next seq, and how many messages the bounds dropped. The database is
opened read-only, so this is safe while \`leaf run\` is running.

Options:
  --config FILE     config file (default: $LEAF_CONFIG, /etc/leaf/leaf.yaml, ./leaf.yaml)
  --state-dir DIR   the outbox in DIR instead of the config's stateDir
  --json            print JSON for machines
  -h, --help        this help`;

const OPTIONS = {
  config: { type: "string" },
  "state-dir": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** `3m12s`, `2h05m`, `4d03h`: a (non-negative) age for people. */
export function formatAge(ms: number): string {
  const s = Math.floor(Math.max(0, ms) / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

/** `512 B`, `245.1 KiB`, `64.0 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** The human report. */
export function renderStatus(status: OutboxStatus, now: number): string {
  const ms = status.oldestCreated === undefined ? undefined : now - status.oldestCreated;
  const age = ms === undefined
    ? "-"
    : ms >= 0
    ? `${formatAge(ms)} ago`
    : `${formatAge(-ms)} in the future (check the clock)`;
  return [
    status.exists ? `Outbox ${status.path}` : `No outbox yet at ${status.path}`,
    `  queued    ${plural(status.depth, "message")}, ${formatBytes(status.bytes)}`,
    `  oldest    ${age}`,
    `  next seq  ${status.nextSeq}`,
    `  dropped   ${plural(status.dropped, "message")}, ${formatBytes(status.droppedBytes)}`,
  ].join("\n");
}

/** Runs `leaf outbox <subcommand>`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parse("outbox", args, OPTIONS, true);
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  const [sub, ...extra] = positionals;
  if (sub !== "status") {
    throw new UsageError(
      sub === undefined ? "leaf outbox needs a subcommand" : `Unknown subcommand "outbox ${sub}"`,
      { hint: "use `leaf outbox status`" },
    );
  }
  if (extra.length > 0) {
    throw new UsageError(
      `Unexpected argument ${quoteArg(extra[0], "argument")} for \`leaf outbox status\``,
    );
  }
  const stateDir = values["state-dir"] ??
    (await loadConfig(values.config === undefined ? {} : { config: values.config })).config
      .stateDir;
  const status = readOutboxStatus(stateDir);
  const now = Date.now();
  if (values.json) {
    const oldestAgeMs = status.oldestCreated === undefined ? null : now - status.oldestCreated;
    console.log(JSON.stringify({
      path: status.path,
      exists: status.exists,
      depth: status.depth,
      bytes: status.bytes,
      oldestCreated: status.oldestCreated ?? null,
      oldestAgeMs,
      nextSeq: status.nextSeq,
      dropped: status.dropped,
      droppedBytes: status.droppedBytes,
    }));
  } else {
    console.log(renderStatus(status, now));
  }
  return EXIT.ok;
}
