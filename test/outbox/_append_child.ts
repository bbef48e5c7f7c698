/**
 * Child process for the kill -9 test: appends forever with a 50 ms commit
 * interval and prints, as one JSON line each, `{"ready":nextSeq}` and then
 * `{"committed":seq}` after every commit that made rows visible.
 *
 * Usage: deno run --allow-read --allow-write _append_child.ts STATE_DIR
 *
 * @module
 */
import { createLogger } from "../../lib/log.ts";
import { openOutbox } from "../../lib/outbox/outbox.ts";

const [stateDir] = Deno.args;
const encoder = new TextEncoder();
const say = (line: Record<string, number>) => {
  const bytes = encoder.encode(JSON.stringify(line) + "\n");
  for (let n = 0; n < bytes.length;) n += Deno.stdout.writeSync(bytes.subarray(n));
};

const outbox = openOutbox({
  stateDir,
  commitInterval: 50,
  commitEvery: 1_000_000,
  log: createLogger({ level: "warn" }),
});
outbox.onCommitted(({ committedSeq }) => say({ committed: committedSeq }));
say({ ready: outbox.stats().nextSeq });
for (;;) {
  for (let i = 0; i < 25; i++) {
    outbox.append(Date.now(), (seq, mid) => ({
      body: JSON.stringify({ seq, mid }),
      props: `%24.mid=${mid}`,
    }));
  }
  await new Promise((resolve) => setTimeout(resolve, 1));
}
