/**
 * The JavaScript ceiling for `deno task bench`: raw `npm:mqtt` under Deno,
 * the same TLS connection and IoT Hub topic as leaf, every QoS 1 publish
 * issued at once (mqtt.js queues them and writes as the socket allows), then
 * wait for every PUBACK. No error classes, no window, no per-message
 * bookkeeping beyond what mqtt.js does itself.
 *
 * ```sh
 * BENCH_SPEC='{"host":"localhost","port":8883,...}' deno run -A tasks/_bench/mqtt_send.ts
 * ```
 *
 * BENCH_SPEC (JSON): host, port, caFile, deviceId, username, password, count, template.
 * Prints one JSON line with the connect and send-phase times it saw.
 *
 * @module
 */
import mqtt from "mqtt";

interface Spec {
  host: string;
  port: number;
  caFile: string;
  deviceId: string;
  username: string;
  password: string;
  count: number;
  template: Record<string, unknown>;
}

const spec: Spec = JSON.parse(Deno.env.get("BENCH_SPEC") ?? "{}");
const t0 = performance.now();
const client = await mqtt.connectAsync({
  protocol: "mqtts",
  host: spec.host,
  port: spec.port,
  ca: await Deno.readTextFile(spec.caFile),
  clientId: spec.deviceId,
  username: spec.username,
  password: spec.password,
  protocolVersion: 4,
  clean: false,
  keepalive: 60,
  reconnectPeriod: 0,
});
const connected = performance.now();
const prefix = `devices/${spec.deviceId}/messages/events/`;
const sends: Promise<unknown>[] = [];
for (let seq = 1; seq <= spec.count; seq++) {
  const body = JSON.stringify({ ...spec.template, seq, ts: new Date().toISOString() });
  const topic = `${prefix}%24.mid=${crypto.randomUUID()}&%24.ct=application%2Fjson&%24.ce=utf-8`;
  sends.push(client.publishAsync(topic, body, { qos: 1 }));
}
await Promise.all(sends);
const done = performance.now();
await client.endAsync();
console.log(
  JSON.stringify({ sent: sends.length, connectMs: connected - t0, sendMs: done - connected }),
);
