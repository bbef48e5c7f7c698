/**
 * Helpers for the outbox tests: a logger that records, a body builder that
 * embeds seq and mid, and a second (read-only) connection that checks what
 * is really on disk.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { createLogger, type Logger } from "../../lib/log.ts";

/** A logger whose lines (JSON format) are kept in `lines`. */
export function captureLog(): { log: Logger; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  const log = createLogger({
    level: "debug",
    format: "json",
    write: (l) => lines.push(JSON.parse(l)),
  });
  return { log, lines };
}

/** A quiet logger for tests that do not look at logs. */
export const quiet: Logger = createLogger({ level: "error", write: () => {} });

/** Builds a body carrying seq and mid, and a property bag carrying the mid. */
export function message(seq: number, mid: string, pad = 0): { body: string; props: string } {
  return {
    body: JSON.stringify({ seq, mid, pad: "x".repeat(pad) }),
    props: `%24.mid=${mid}&%24.ct=application%2Fjson&%24.ce=utf-8`,
  };
}

/** Path of the outbox database in `dir`. */
export function dbPath(dir: string): string {
  return join(dir, "outbox.db");
}

/** Seqs of the committed rows, read through a separate read-only connection. */
export function committedSeqs(dir: string): number[] {
  const db = new DatabaseSync(dbPath(dir), { readOnly: true });
  try {
    return (db.prepare("SELECT seq FROM messages ORDER BY seq").all() as { seq: number }[])
      .map((r) => r.seq);
  } finally {
    db.close();
  }
}

/** Asserts the committed meta counters match the committed rows. */
export function assertCountersMatchRows(dir: string): void {
  const db = new DatabaseSync(dbPath(dir), { readOnly: true });
  try {
    const meta = Object.fromEntries(
      (db.prepare("SELECT key, value FROM meta").all() as { key: string; value: number }[])
        .map((r) => [r.key, r.value]),
    );
    const t = db.prepare("SELECT count(*) AS n, total(bytes) AS b, max(seq) AS m FROM messages")
      .get() as { n: number; b: number; m: number | null };
    assert.equal(meta.depth, t.n, "meta depth = rows");
    assert.equal(meta.bytes, t.b, "meta bytes = sum(bytes)");
    if (t.m !== null) assert.ok(meta.next_seq > t.m, "next_seq above every row");
  } finally {
    db.close();
  }
}

/** Asserts `seqs` is a run of consecutive integers. */
export function assertContiguous(seqs: number[], what = "seqs"): void {
  for (let i = 1; i < seqs.length; i++) {
    assert.equal(seqs[i], seqs[i - 1] + 1, `${what}: gap or reuse after ${seqs[i - 1]}`);
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
