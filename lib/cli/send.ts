/**
 * `leaf send`: connect, publish `--count` messages pipelined at QoS 1, wait
 * for every PUBACK, disconnect, exit 0 — the SDK samples' behaviour as one
 * command, with leaf's error classes and exit codes.
 *
 * @module
 */
import { quoteArg } from "../log.ts";
import { EXIT, LeafError, UsageError } from "../errors.ts";
import { loadConfig } from "../config/load.ts";
import { resolveTarget } from "../config/target.ts";
import {
  buildMessage,
  MAX_MESSAGE_BYTES,
  messageSize,
  type OutgoingMessage,
  shapeBody,
} from "../agent/message.ts";
import { createSimulatedSensor } from "../sensors/simulated.ts";
import { encodePropertyBag } from "../iothub/properties.ts";
import { telemetryTopic } from "../iothub/topics.ts";
import { clockError, clockIsBeforeRelease } from "../transport/classify.ts";
import { createConnector } from "../transport/credentials.ts";
import { MqttSession } from "../transport/mqtt.ts";
import { configFlags, CONNECTION_HELP, CONNECTION_OPTIONS, intFlag, parse } from "./_args.ts";

const HELP = `Usage: leaf send [options]

Connect to the gateway, send messages (QoS 1, pipelined), wait for every
acknowledgement, disconnect. Exit codes: 0 sent, 2 bad input, 3 TLS trust,
4 refused credentials, 5 gateway unreachable.

Options:
  --count N                 messages to send (default 1)
  --message JSON            body; leaf adds "seq" (1..N), "sendId" and "ts" (default: a
                            simulated reading)
  --property K=V            application property (repeatable)
  --window N                publishes in flight at once (default: outbox.window, 32)
  --quiet                   print nothing on success
${CONNECTION_HELP}`;

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  count: { type: "string" },
  message: { type: "string" },
  property: { type: "string", multiple: true },
  window: { type: "string" },
  quiet: { type: "boolean" },
} as const;

/** Parses `--property k=v` flags into custom properties. */
export function parseProperties(flags: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const flag of flags) {
    const eq = flag.indexOf("=");
    if (eq <= 0) {
      throw new UsageError(`--property ${quoteArg(flag, "value")} is not KEY=VALUE`, {
        hint: "write e.g. --property sensor=cpu",
      });
    }
    const key = flag.slice(0, eq);
    if (key.startsWith("$")) {
      throw new UsageError(`--property ${quoteArg(key, "name")} is a system property name`, {
        hint: 'leaf sets $.mid, $.ct, $.ce and $.ctime itself; use a name without "$"',
      });
    }
    if (Object.hasOwn(out, key)) {
      throw new UsageError(`--property ${quoteArg(key, "name")} is given twice`);
    }
    out[key] = flag.slice(eq + 1);
  }
  return out;
}

/** Parses `--message` into a body template (an object; other JSON is wrapped in `value`). */
export function parseMessageFlag(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--message is not JSON (${(error as Error).message})`, {
      hint: `quote it for the shell, e.g. --message '{"temperature": 21.5}'`,
    });
  }
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? value as Record<string, unknown>
    : { value };
}

/** Runs `leaf send`. */
export async function main(args: string[]): Promise<number> {
  const { values } = parse("send", args, OPTIONS);
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  const count = intFlag("count", values.count, { min: 1, max: 10_000_000 }) ?? 1;
  const template = parseMessageFlag(values.message);
  const properties = parseProperties(values.property);

  const { config } = await loadConfig(configFlags(values));
  const target = await resolveTarget(config);
  const window = intFlag("window", values.window, { min: 1, max: 1024 }) ?? config.outbox.window;
  const identity = {
    deviceId: target.cs.deviceId,
    ...(target.cs.moduleId ? { moduleId: target.cs.moduleId } : {}),
  };

  // `seq` numbers this invocation's messages 1..N; `sendId` names the
  // invocation. The per-device seq that survives restarts is `leaf run`'s
  // (a one-shot command must not take the agent's outbox lock).
  const sendId = crypto.randomUUID();
  // Messages are built as the window frees up (memory stays flat for big
  // counts); the first is built and size-checked before touching the network.
  const sensor = template ? undefined : createSimulatedSensor({ seed: Date.now() & 0xffff });
  // With --message, bodies and topics are spliced from parts encoded once.
  const templateJson = template ? JSON.stringify(template) : "";
  const open = templateJson.length > 2 ? templateJson.slice(0, -1) + "," : "{";
  const custom = encodePropertyBag({}, properties);
  const topicHead = telemetryTopic(identity, "%24.mid=");
  const topicMid = "&%24.ct=application%2Fjson&%24.ce=utf-8&%24.ctime=";
  const topicTail = custom ? `&${custom}` : "";
  const makeFast = (seq: number): OutgoingMessage => {
    const iso = new Date().toISOString();
    const messageId = crypto.randomUUID();
    return {
      topic: topicHead + messageId + topicMid + iso.replaceAll(":", "%3A") + topicTail,
      payload: `${open}"sendId":"${sendId}","seq":${seq},"ts":"${iso}"}`,
      messageId,
    };
  };
  const make = async (seq: number): Promise<OutgoingMessage> => {
    if (template) return makeFast(seq);
    const now = Date.now();
    const body = { ...shapeBody(identity.deviceId, seq, await sensor!.read(now), now), sendId };
    return buildMessage({
      identity,
      messageId: crypto.randomUUID(),
      createdAt: now,
      body: JSON.stringify(body),
      properties,
    });
  };
  const first = await make(1);
  const size = messageSize(first);
  if (size > MAX_MESSAGE_BYTES) {
    throw new UsageError(
      `The message is ${size} bytes with its properties; IoT Hub's limit is ${MAX_MESSAGE_BYTES}`,
      { hint: "send a smaller body (edgeHub acknowledges and then drops oversize messages)" },
    );
  }

  const connector = await createConnector(target, {
    keepAliveMs: config.gateway.keepAlive,
    connectTimeoutMs: config.gateway.connectTimeout,
    ackTimeoutMs: config.gateway.ackTimeout,
    tokenLifetimeMs: config.auth.tokenLifetime,
  });
  if (clockIsBeforeRelease()) throw clockError();
  const { options } = await connector.attempt();
  const started = performance.now();
  const session = await MqttSession.open(options);
  let acked = 0;
  try {
    // One producer publishes in seq order; at most `window` await their PUBACK.
    let failure: unknown;
    let inFlight = 0;
    let wake: (() => void) | undefined;
    // Refill at half the window, in one synchronous burst: the burst's
    // PUBLISH packets leave in one TLS write instead of one per PUBACK.
    const low = Math.floor(window / 2);
    const done = () => {
      inFlight--;
      if (inFlight <= low || failure !== undefined) {
        wake?.();
        wake = undefined;
      }
    };
    let seq = 1;
    while (seq <= count && failure === undefined) {
      if (inFlight > low) await new Promise<void>((r) => wake = r);
      if (failure !== undefined) break;
      const burst: OutgoingMessage[] = [];
      while (inFlight + burst.length < window && seq <= count) {
        burst.push(seq === 1 ? first : template ? makeFast(seq) : await make(seq));
        seq++;
      }
      for (const m of burst) {
        inFlight++;
        session.publish(m.topic, m.payload, 1).then(
          () => void acked++,
          (error) => void (failure ??= error),
        ).finally(done);
      }
    }
    while (inFlight > 0) await new Promise<void>((r) => wake = r);
    if (failure !== undefined) {
      if (failure instanceof LeafError) {
        // Same class of failure, plus how far the run got.
        throw new LeafError(
          `${failure.message} (${acked} of ${count} acknowledged)`,
          failure.exitCode,
          failure.code,
          { ...(failure.hint ? { hint: failure.hint } : {}), cause: failure },
        );
      }
      throw failure;
    }
  } finally {
    await session.end();
  }
  if (!values.quiet) {
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `Sent ${count} message${count === 1 ? "" : "s"} to ${target.host}:${target.port} as ${
        identity.moduleId ? `${identity.deviceId}/${identity.moduleId}` : identity.deviceId
      }: ${acked} acknowledged in ${seconds.toFixed(2)} s`,
    );
  }
  return EXIT.ok;
}
