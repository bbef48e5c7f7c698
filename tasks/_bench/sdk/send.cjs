// The official Azure IoT device SDK for Node (azure-iot-device + the MQTT
// transport), driven the way its samples drive it, for `deno task bench`.
// Runs on the machine's Node.js from a copy of this folder in the bench's
// cache dir (tasks/_bench/sdk.ts installs it there with `npm ci`).
//
// BENCH_SPEC (JSON): { cs, caFile, mode, count, template, intervalMs }
//   mode "seq":  open, then `await client.sendEvent(m)` one by one (the samples' pattern)
//   mode "all":  open, then every sendEvent in flight at once, await them all
//   mode "idle": open, send one message every intervalMs until SIGTERM
// Prints one JSON line: connect and send-phase times as the SDK saw them.
"use strict";
const { readFileSync } = require("node:fs");
const { randomUUID } = require("node:crypto");
const { Client, Message } = require("azure-iot-device");
const { Mqtt } = require("azure-iot-device-mqtt");

const spec = JSON.parse(process.env.BENCH_SPEC);

function message(seq) {
  const m = new Message(JSON.stringify({ ...spec.template, seq, ts: new Date().toISOString() }));
  m.messageId = randomUUID();
  m.contentType = "application/json";
  m.contentEncoding = "utf-8";
  return m;
}

async function main() {
  const t0 = performance.now();
  const client = Client.fromConnectionString(spec.cs, Mqtt);
  await client.setOptions({ ca: readFileSync(spec.caFile, "utf8") });
  await client.open();
  const connected = performance.now();
  let sent = 0;
  if (spec.mode === "seq") {
    for (let seq = 1; seq <= spec.count; seq++) {
      await client.sendEvent(message(seq));
      sent++;
    }
  } else if (spec.mode === "all") {
    const all = [];
    for (let seq = 1; seq <= spec.count; seq++) all.push(client.sendEvent(message(seq)));
    await Promise.all(all);
    sent = all.length;
  } else if (spec.mode === "idle") {
    await new Promise((resolve) => {
      const tick = () => {
        sent++;
        client.sendEvent(message(sent)).catch((e) => console.error(String(e)));
      };
      tick();
      const timer = setInterval(tick, spec.intervalMs);
      process.once("SIGTERM", () => {
        clearInterval(timer);
        resolve();
      });
    });
  } else {
    throw new Error(`unknown mode "${spec.mode}"`);
  }
  const done = performance.now();
  await client.close();
  console.log(JSON.stringify({ sent, connectMs: connected - t0, sendMs: done - connected }));
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`sdk: ${error && error.stack || error}`);
    process.exit(1);
  },
);
