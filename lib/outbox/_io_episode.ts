/**
 * Storage I/O errors come in episodes (an SD card that stalls, a USB disk
 * that resets): one loud error line when an episode starts, one line when the
 * storage works again, nothing in between. After {@linkcode CHECK_AFTER}
 * failures in a row the file deserves one integrity check per episode.
 *
 * @module
 */
import { formatDuration } from "../config/duration.ts";
import type { Logger } from "../log.ts";
import { reasonOf } from "./_sqlite.ts";

/** What to do about storage errors. */
export const STORAGE_HINT = "check the storage that holds stateDir (dmesg, the SD card)";

/** Failures in a row after which the database file is integrity-checked (once per episode). */
export const CHECK_AFTER = 3;

/** One run of I/O errors on the outbox database. */
export class IoEpisode {
  #log: Logger;
  #path: string;
  #now: () => number;
  #retryMs: number;
  #failures = 0;
  #since = 0;
  #checked = false;

  /** Reports on `path`; `retryMs` is how often the outbox retries (its commit interval). */
  constructor(log: Logger, path: string, now: () => number, retryMs: number) {
    this.#log = log;
    this.#path = path;
    this.#now = now;
    this.#retryMs = retryMs;
  }

  /** True between the first failure and {@linkcode recovered}. */
  get active(): boolean {
    return this.#failures > 0;
  }

  /**
   * Counts a failure (logging the first). At the {@linkcode CHECK_AFTER}th in
   * a row runs `check` (once per episode) and returns what it found wrong
   * with the file, if anything; a check that fails to read proves nothing.
   */
  failed(error: unknown, held: number, check: () => string | undefined): string | undefined {
    if (this.#failures++ === 0) {
      this.#since = this.#now();
      this.#log.error(
        `Outbox storage error on "${this.#path}" (${reasonOf(error)}): ` +
          `keeping unsaved messages in memory and retrying every ${
            formatDuration(this.#retryMs)
          }; the database is not moved aside`,
        { held, hint: STORAGE_HINT },
      );
    }
    if (this.#checked || this.#failures < CHECK_AFTER) return undefined;
    this.#checked = true;
    try {
      const problem = check();
      return problem && `${problem}, found by an integrity check after I/O errors`;
    } catch {
      return undefined;
    }
  }

  /** The storage worked again: logs how long the episode lasted and ends it. */
  recovered(): void {
    if (this.#failures === 0) return;
    this.#log.info(`Outbox storage works again on "${this.#path}"`, {
      failures: this.#failures,
      after: formatDuration(Math.max(0, this.#now() - this.#since)),
    });
    this.end();
  }

  /** Ends the episode without a line (e.g. the file was replaced, which says so itself). */
  end(): void {
    this.#failures = 0;
    this.#checked = false;
  }
}
