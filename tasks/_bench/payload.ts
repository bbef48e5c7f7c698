/**
 * The one payload every contender sends: a JSON body of three readings
 * (≈210 bytes once `seq` and `ts` are added, as `leaf send --message` adds
 * them), and the IoT Hub system properties `$.mid`, `$.ct`, `$.ce` in the
 * topic. Also pre-fills leaf's outbox exactly as `leaf run` writes it.
 *
 * @module
 */
import { encodePropertyBag } from "../../lib/iothub/properties.ts";
import { openOutbox } from "../../lib/outbox/outbox.ts";
import { createLogger } from "../../lib/log.ts";

/** The body template; each sender adds `seq` and `ts` (ISO 8601). */
export const TEMPLATE = {
  temperature: { value: 21.53, unit: "Cel", status: "ok" },
  humidity: { value: 48.21, unit: "%RH", status: "ok" },
  pressure: { value: 1013.25, unit: "hPa", status: "ok" },
} as const;

/** The body of message `seq`. */
export function body(seq: number, now = Date.now()): string {
  return JSON.stringify({ ...TEMPLATE, seq, ts: new Date(now).toISOString() });
}

/** The lines `mosquitto_pub -l` reads: one body per line (it stops after 65 535). */
export function mosquittoLines(count: number): string {
  if (count > 65_535) throw new RangeError("mosquitto_pub -l stops after 65535 lines");
  const now = Date.now();
  let text = "";
  for (let seq = 1; seq <= count; seq++) text += body(seq, now) + "\n";
  return text;
}

/**
 * Appends `count` messages to a fresh outbox in `stateDir`, with the body
 * above and the property bag `leaf run` stores (`$.mid`, `$.ct`, `$.ce`,
 * `$.ctime`), committed in leaf's default batches.
 */
export function prefillOutbox(stateDir: string, count: number): void {
  using outbox = openOutbox({ stateDir, log: createLogger({ level: "warn" }) });
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    outbox.append(now, (seq, mid) => ({
      body: body(seq, now),
      props: encodePropertyBag({
        messageId: mid,
        contentType: "application/json",
        contentEncoding: "utf-8",
        creationTime: new Date(now).toISOString(),
      }),
    }));
  }
  outbox.commit();
}
