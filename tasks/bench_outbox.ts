/**
 * Outbox micro-benchmark: batched append rate (~200-byte bodies), peek+ack
 * drain rate without a network, and the time from `openOutbox()` to the
 * first `peek` with `count` messages queued.
 *
 * ```sh
 * deno run -A tasks/bench_outbox.ts [--count 100000] [--dir DIR]
 * ```
 *
 * `tasks/bench.ts` calls {@linkcode benchOutbox}.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createLogger } from "../lib/log.ts";
import { join } from "node:path";
import { openOutbox, OUTBOX_FILE } from "../lib/outbox/outbox.ts";

/** Options of {@linkcode benchOutbox}. */
export interface BenchOutboxOptions {
  /** An empty directory used as stateDir (left in place; the caller removes it). */
  dir: string;
  /** Messages to append, then reopen and drain. @default 100000 */
  count?: number;
  /** Messages per peek while draining (the sender's window). @default 32 */
  window?: number;
}

/** The measured figures. */
export interface BenchOutboxResult {
  /** Appends per second, committed in batches (default commitEvery/commitInterval). */
  appendPerSec: number;
  /** Messages per second through peek + ack, including the final commit. */
  drainPerSec: number;
  /** `openOutbox()` until the first `peek` returned, with `count` queued. */
  openMs: number;
  /** Size of `outbox.db` with `count` queued (after the final checkpoint). */
  dbBytes: number;
}

const PROPS = "%24.mid=00000000-0000-0000-0000-000000000000&%24.ct=application%2Fjson&%24.ce=utf-8";

/** Runs the three measurements in `dir`. */
export async function benchOutbox(options: BenchOutboxOptions): Promise<BenchOutboxResult> {
  const count = options.count ?? 100_000;
  const window = options.window ?? 32;
  const log = createLogger({ level: "warn" });
  const stateDir = options.dir;
  const created = Date.now();
  const pad = "x".repeat(60);

  let outbox = openOutbox({ stateDir, log });
  let t0 = performance.now();
  for (let i = 0; i < count; i++) {
    outbox.append(created + i, (seq, mid) => ({
      // ~200 bytes, shaped like a telemetry body
      body:
        `{"deviceId":"pi-01","seq":${seq},"mid":"${mid}","ts":"2026-01-01T00:00:00.000Z","readings":[{"name":"cpu","value":42.5,"unit":"C"}],"pad":"${pad}"}`,
      props: PROPS,
    }));
  }
  outbox.commit();
  const appendPerSec = count / ((performance.now() - t0) / 1000);
  outbox.close();
  const dbBytes = (await Deno.stat(join(stateDir, OUTBOX_FILE))).size;

  t0 = performance.now();
  outbox = openOutbox({ stateDir, log });
  let batch = outbox.peek(0, window);
  const openMs = performance.now() - t0;
  if (outbox.stats().depth !== count || batch[0]?.seq !== 1) {
    throw new Error(`expected ${count} queued from seq 1, found ${outbox.stats().depth}`);
  }

  t0 = performance.now();
  let drained = 0;
  let after = 0;
  while (batch.length > 0) {
    for (const m of batch) {
      outbox.ack(m.seq);
      after = m.seq;
    }
    drained += batch.length;
    batch = outbox.peek(after, window);
  }
  outbox.commit();
  const drainPerSec = drained / ((performance.now() - t0) / 1000);
  outbox.close();
  return { appendPerSec, drainPerSec, openMs, dbBytes };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { count: { type: "string" }, dir: { type: "string" } },
  });
  const dir = values.dir ?? await Deno.makeTempDir({ prefix: "leaf-bench-outbox-" });
  try {
    const count = Number(values.count ?? 100_000);
    const r = await benchOutbox({ dir, count });
    console.log(
      `outbox append  ${Math.round(r.appendPerSec).toLocaleString("en")} msg/s (batched)`,
    );
    console.log(
      `outbox drain   ${Math.round(r.drainPerSec).toLocaleString("en")} msg/s (peek+ack)`,
    );
    console.log(
      `outbox open    ${r.openMs.toFixed(1)} ms to first peek with ${count} queued ` +
        `(${(r.dbBytes / 1024 / 1024).toFixed(1)} MiB file)`,
    );
  } finally {
    if (values.dir === undefined) await Deno.remove(dir, { recursive: true });
  }
}
