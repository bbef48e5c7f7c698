/**
 * Child process for the salvage kill -9 test: opens the outbox in STATE_DIR
 * (whose database must be unusable but readable, so it is salvaged) and
 * SIGKILLs itself when the first salvaged row is copied into the fresh
 * database.
 *
 * Usage: deno run --allow-read --allow-write --allow-env --allow-run _salvage_kill_child.ts STATE_DIR
 *
 * @module
 */
import { createLogger } from "../../lib/log.ts";
import { Statements } from "../../lib/outbox/_statements.ts";
import { openOutbox } from "../../lib/outbox/outbox.ts";

const insert = Statements.prototype.insert;
Statements.prototype.insert = function (this: Statements, row, replace) {
  if (replace) Deno.kill(Deno.pid, "SIGKILL"); // a salvaged row: the copy has begun
  insert.call(this, row, replace);
};
openOutbox({ stateDir: Deno.args[0], log: createLogger({ level: "error", write: () => {} }) });
console.error("the database was not salvaged");
