/**
 * The sequence reserve: a tiny side file (`<stateDir>/seq.reserve`) holding a
 * ceiling above every `seq` the outbox has ever handed out.
 *
 * The outbox writes a new ceiling (next seq + one block, 10 000 by default)
 * *before* it allocates the first seq at or above the old one, atomically
 * (temp file, fsync, rename, fsync of the directory). If the database is ever
 * lost (corrupt and moved aside, deleted), the fresh database starts at the
 * ceiling, so a receiver never sees one `seq` twice for different readings; it
 * sees a gap instead, which is the truth: messages were lost. Cost: one small
 * synced write per block of messages.
 *
 * @example
 * ```ts
 * const reserve = readSeqReserve("/var/lib/leaf");   // { ceiling: 0 } when missing
 * writeSeqReserve("/var/lib/leaf", 10_001);
 * ```
 *
 * @module
 */
import { join } from "node:path";

/** Name of the reserve file inside the state directory. */
export const SEQ_RESERVE_FILE = "seq.reserve";

/** What {@linkcode readSeqReserve} found. */
export interface SeqReserve {
  /** Every seq handed out so far is below this; 0 when unknown. */
  ceiling: number;
  /** Why the file could not be used, when it exists but is unreadable or invalid. */
  problem?: string;
}

/** Reads the ceiling; a missing file is `{ ceiling: 0 }`, garbage is reported in `problem`. */
export function readSeqReserve(stateDir: string): SeqReserve {
  const path = join(stateDir, SEQ_RESERVE_FILE);
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { ceiling: 0 };
    return { ceiling: 0, problem: `cannot read "${path}": ${(error as Error).message}` };
  }
  const m = /^\s*(\d{1,16})\s*$/.exec(text);
  const ceiling = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(ceiling)) {
    return { ceiling: 0, problem: `"${path}" does not hold a sequence number` };
  }
  return { ceiling };
}

/** Writes the ceiling atomically and durably (temp file, fsync, rename, fsync dir). */
export function writeSeqReserve(stateDir: string, ceiling: number): void {
  if (!Number.isSafeInteger(ceiling) || ceiling < 0) {
    throw new RangeError(`seq reserve ceiling must be a safe non-negative integer: ${ceiling}`);
  }
  const path = join(stateDir, SEQ_RESERVE_FILE);
  const temp = `${path}.tmp`;
  const file = Deno.openSync(temp, { write: true, create: true, truncate: true });
  try {
    const bytes = new TextEncoder().encode(`${ceiling}\n`);
    for (let n = 0; n < bytes.length;) n += file.writeSync(bytes.subarray(n));
    file.syncSync();
  } finally {
    file.close();
  }
  Deno.renameSync(temp, path);
  try {
    const dir = Deno.openSync(stateDir, { read: true });
    try {
      dir.syncSync();
    } finally {
      dir.close();
    }
  } catch { /* not every filesystem can sync a directory; the rename is still atomic */ }
}
