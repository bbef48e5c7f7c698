/**
 * kill -9 durability: a child appends in a loop (50 ms batches) and reports
 * each commit; the test SIGKILLs it at a random moment, three times, and
 * checks the database after each.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { openOutbox } from "../../lib/outbox/outbox.ts";
import { tempDir } from "../_helpers.ts";
import { assertContiguous, message, quiet, sleep } from "./_util.ts";

const CHILD = fileURLToPath(new URL("./_append_child.ts", import.meta.url));

/** Runs the child until it has committed at least once, kills it, returns what it reported. */
async function runAndKill(stateDir: string): Promise<{ ready: number; lastCommitted: number }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", CHILD, stateDir],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reports: Record<string, number>[] = [];
  const stderr = new Response(child.stderr).text();
  const stdout = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const lines = buffer.split("\n");
      buffer = lines.pop()!; // a line cut by the kill is not a report
      for (const line of lines) reports.push(JSON.parse(line));
    }
  })();
  const deadline = Date.now() + 20_000;
  while (!reports.some((r) => "committed" in r) && Date.now() < deadline) await sleep(10);
  await sleep(100 + Math.random() * 500);
  child.kill("SIGKILL");
  const status = await child.status;
  await stdout;
  const err = await stderr;
  assert.equal(status.signal, "SIGKILL", `child died on its own: ${err}`);
  const committed = reports.filter((r) => "committed" in r).map((r) => r.committed);
  assert.ok(committed.length > 0, `no commit reported: ${err}`);
  return { ready: reports[0].ready, lastCommitted: committed.at(-1)! };
}

Deno.test("kill -9 at random moments loses no committed seq and never reuses one", async () => {
  await using dir = await tempDir("outbox-kill");
  let expectedNext = 1;
  for (let round = 0; round < 3; round++) {
    const { ready, lastCommitted } = await runAndKill(dir.path);
    assert.equal(ready, expectedNext, `round ${round}: the child continued where we left off`);
    using outbox = openOutbox({ stateDir: dir.path, log: quiet });
    const rows = [];
    for (let b = outbox.peek(0, 1000); b.length > 0; b = outbox.peek(b.at(-1)!.seq, 1000)) {
      rows.push(...b);
    }
    const seqs = rows.map((r) => r.seq);
    assert.equal(seqs[0], 1);
    assertContiguous(seqs, `round ${round}`);
    assert.ok(
      seqs.at(-1)! >= lastCommitted,
      `round ${round}: reported committed ${lastCommitted}, found up to ${seqs.at(-1)}`,
    );
    for (const r of rows) {
      const body = JSON.parse(r.body);
      assert.deepEqual([body.seq, body.mid], [r.seq, r.mid], "seq and mid allocated with the row");
    }
    assert.equal(outbox.stats().depth, rows.length);
    const { seq } = outbox.append(Date.now(), message);
    assert.equal(seq, seqs.at(-1)! + 1, "the next append continues without a gap or reuse");
    outbox.commit();
    expectedNext = seq + 1;
  }
});
