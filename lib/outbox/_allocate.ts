/**
 * Allocating a message's seq and id, and keeping the seq reserve
 * (`seq.reserve`, see `seq_reserve.ts`) ahead of every seq handed out.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { reasonOf, utf8Length } from "./_sqlite.ts";
import type { Row } from "./_statements.ts";
import { writeSeqReserve } from "./seq_reserve.ts";

/** Builds a message's body and properties from its seq and id. */
export type Build = (seq: number, mid: string) => { body: string; props: string };

/** What {@linkcode Allocator} needs from the outbox options. */
export interface AllocatorOptions {
  stateDir: string;
  reserveBlock: number;
  newId: () => string;
  log: Logger;
}

/** Makes rows; knows the reserve's ceiling. */
export class Allocator {
  #o: AllocatorOptions;
  #ceiling: number;

  /** `ceiling` is the reserve as read at start (0 when there is none). */
  constructor(o: AllocatorOptions, ceiling: number) {
    this.#o = o;
    this.#ceiling = ceiling;
  }

  /** Every seq handed out is below this. */
  get ceiling(): number {
    return this.#ceiling;
  }

  /** The row for `seq` (the queue's next), with a fresh id and the caller's body and props. */
  row(seq: number, created: number, build: Build): Row {
    if (seq >= this.#ceiling) this.#raise(seq);
    const mid = this.#o.newId();
    const { body, props } = build(seq, mid);
    if (typeof body !== "string" || typeof props !== "string") {
      throw new TypeError("Outbox.append(): build must return { body: string, props: string }");
    }
    return { seq, created, bytes: utf8Length(body) + utf8Length(props), mid, props, body };
  }

  /** Writes a new ceiling before the first seq at or above the old one is used. */
  #raise(seq: number): void {
    const ceiling = seq + this.#o.reserveBlock;
    try {
      writeSeqReserve(this.#o.stateDir, ceiling);
    } catch (error) {
      this.#o.log.error("Cannot write the sequence reserve; retrying at the next block", {
        stateDir: this.#o.stateDir,
        error: reasonOf(error),
      });
    }
    this.#ceiling = ceiling;
  }
}
