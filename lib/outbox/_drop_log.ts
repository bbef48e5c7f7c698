/**
 * Logs drops once per episode, not once per message: an episode starts with
 * the first drop and ends when the gateway takes a message (an ack) after
 * drops have stopped for 30 s, or after ten quiet minutes. (A slow link
 * drops and delivers at the same time: that is one episode, not one per
 * commit.) Each reason is logged once per episode; the end
 * logs a summary.
 *
 * @module
 */
import { formatByteSize, formatDuration } from "../config/duration.ts";
import type { Logger } from "../log.ts";

/** Why messages were dropped. */
export type DropReason = "maxBytes" | "maxAge" | "diskFull" | "held";

/** The first line of an episode, per reason: what happens, and why. */
export function describeDrop(
  reason: DropReason,
  limits: { maxBytes: number; maxAge?: number; path: string },
): string {
  switch (reason) {
    case "maxBytes":
      return `Outbox is full (outbox.maxBytes = ${
        formatByteSize(limits.maxBytes)
      }): dropping the oldest messages until the gateway takes them again`;
    case "maxAge":
      return `Outbox messages are older than outbox.maxAge (${
        formatDuration(limits.maxAge ?? 0)
      }): dropping them`;
    case "diskFull":
      return `Disk full writing "${limits.path}": dropping the oldest messages to make room; free space on the file system that holds stateDir`;
    case "held":
      return `Outbox cannot save to "${limits.path}" and holds outbox.maxBytes (${
        formatByteSize(limits.maxBytes)
      }) of unsaved messages in memory: dropping the oldest until the storage works again`;
  }
}

/** Messages dropped in one go: how many, their bytes, and the seqs of the first and last. */
export interface Dropped {
  count: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
}

interface Episode {
  reasons: Set<DropReason>;
  count: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  lastAt: number;
}

/** Rate-limits drop logging to one line per reason per episode. */
export class DropLog {
  #log: Logger;
  #now: () => number;
  #describe: (reason: DropReason) => string;
  #quietMs: number;
  #settleMs: number;
  #episode: Episode | undefined;

  constructor(
    log: Logger,
    now: () => number,
    describe: (reason: DropReason) => string,
    quietMs = 600_000,
    settleMs = 30_000,
  ) {
    this.#log = log;
    this.#now = now;
    this.#describe = describe;
    this.#quietMs = quietMs;
    this.#settleMs = settleMs;
  }

  /** The gateway took a message: ends the episode once no drop happened for the settle time. */
  delivered(): void {
    const e = this.#episode;
    if (e && this.#now() - e.lastAt >= this.#settleMs) this.end("delivered");
  }

  /** Records `count` messages (`bytes`, seq `firstSeq`..`lastSeq`) dropped for `reason`. */
  readonly dropped = (reason: DropReason, d: Dropped): void => {
    const { count, bytes, firstSeq, lastSeq } = d;
    if (count === 0) return;
    const now = this.#now();
    if (this.#episode && now - this.#episode.lastAt > this.#quietMs) this.end("quiet");
    const episode = this.#episode ??= {
      reasons: new Set(),
      count: 0,
      bytes: 0,
      firstSeq,
      lastSeq,
      lastAt: now,
    };
    if (!episode.reasons.has(reason)) {
      episode.reasons.add(reason);
      this.#log.warn(this.#describe(reason), { firstDroppedSeq: firstSeq });
    }
    episode.count += count;
    episode.bytes += bytes;
    episode.lastSeq = Math.max(episode.lastSeq, lastSeq);
    episode.lastAt = now;
  };

  /** Ends the episode (if any) with a summary line. */
  end(why: "delivered" | "quiet" | "closed"): void {
    const e = this.#episode;
    if (!e) return;
    this.#episode = undefined;
    const msg = why === "delivered"
      ? "Outbox delivering again after dropping messages"
      : why === "quiet"
      ? "Outbox stopped dropping messages"
      : "Outbox closed while dropping messages";
    this.#log.info(msg, {
      dropped: e.count,
      droppedBytes: e.bytes,
      firstDroppedSeq: e.firstSeq,
      lastDroppedSeq: e.lastSeq,
    });
  }

  /** True while an episode is open. */
  get active(): boolean {
    return this.#episode !== undefined;
  }
}
