/**
 * Fixtures for `leaf run` fault tests: a config file for the agent, a dev
 * gateway that can be stopped and restarted on the same port, and checks on
 * the sequence numbers that arrived.
 *
 * @module
 */
import assert from "node:assert/strict";
import { readJsonLines } from "../_helpers.ts";
import { HUB, KEY_A, startTestGateway, testChainDir } from "../gateway/_setup.ts";
import type { Gateway } from "../../lib/gateway/broker.ts";

export { freePort } from "../../tasks/_process.ts";

/** Writes a leaf config for device `dev-1` against `localhost:port`; returns its path. */
export async function writeRunConfig(
  dir: string,
  port: number,
  extra: string[] = [],
): Promise<string> {
  const certs = await testChainDir();
  const file = `${dir}/leaf.yaml`;
  await Deno.writeTextFile(
    file,
    [
      `connectionString: "HostName=${HUB};DeviceId=dev-1;SharedAccessKey=${KEY_A};GatewayHostName=localhost"`,
      "gateway:",
      `  caCert: ${certs}/certs/azure-iot-test-only.root.ca.cert.pem`,
      `  port: ${port}`,
      "  connectTimeout: 5s",
      "  ackTimeout: 5s",
      `stateDir: ${dir}/state`,
      "reconnect:",
      "  minDelay: 50ms",
      "  maxDelay: 1s",
      "telemetry:",
      "  interval: 25ms",
      "sensors:",
      "  - type: simulated",
      "outbox:",
      "  commitInterval: 100ms",
      "log:",
      "  statusInterval: 1s",
      ...extra,
      "",
    ].join("\n"),
  );
  return file;
}

/** A dev gateway that can go down and come back on the same port. */
export class RestartableGateway implements AsyncDisposable {
  gateway: Gateway | undefined;
  constructor(
    readonly port: number,
    readonly outFile: string,
    readonly extra: { adminPort?: number } = {},
  ) {}

  async start(): Promise<void> {
    for (let attempt = 0;; attempt++) {
      try {
        const { gateway } = await startTestGateway({
          port: this.port,
          outFile: this.outFile,
          ...this.extra,
        });
        this.gateway = gateway;
        return;
      } catch (error) {
        // The old listener may need a moment to release the port.
        if (attempt > 40) throw error;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async stop(): Promise<void> {
    await this.gateway?.close();
    this.gateway = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** A record from the gateway's `--out` file. */
export interface Delivered {
  properties: Record<string, string>;
  body: { seq: number };
}

/** Reads the delivered messages. */
export function delivered(outFile: string): Promise<Delivered[]> {
  return readJsonLines<Delivered>(outFile);
}

/**
 * Asserts every seq from 1 to the highest arrived, first deliveries in
 * order, and that a repeated seq is always the same message (same `$.mid`).
 * Returns the highest seq and the number of duplicates.
 */
export function assertNoGap(records: Delivered[]): { max: number; duplicates: number } {
  const firstMid = new Map<number, string>();
  const order: number[] = [];
  let duplicates = 0;
  for (const r of records) {
    const seq = r.body.seq;
    const mid = r.properties["$.mid"];
    const seen = firstMid.get(seq);
    if (seen === undefined) {
      firstMid.set(seq, mid);
      order.push(seq);
    } else {
      duplicates++;
      assert.equal(mid, seen, `seq ${seq} arrived twice with different $.mid (a reused seq)`);
    }
  }
  const max = Math.max(0, ...order);
  const missing: number[] = [];
  for (let s = 1; s <= max; s++) if (!firstMid.has(s)) missing.push(s);
  assert.deepEqual(missing.slice(0, 20), [], `missing seqs (first 20 of ${missing.length})`);
  for (let i = 1; i < order.length; i++) {
    assert.ok(
      order[i] > order[i - 1],
      `first deliveries out of order at ${order[i - 1]} → ${order[i]}`,
    );
  }
  return { max, duplicates };
}
