/**
 * The cloud side of the agent: device twin, direct methods and
 * cloud-to-device messages over the sender's MQTT session.
 *
 * Telemetry never waits for any of this (edgeHub may be cut off from IoT
 * Hub, so twin requests can go unanswered for a long time): subscriptions are
 * made after each CONNACK, the twin GET runs in the background with a
 * timeout, and twin response status codes are checked (the Node SDK ignores
 * them).
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { decodePropertyBag, flattenBag } from "../iothub/properties.ts";
import {
  c2dFilter,
  type Identity,
  methodResponseTopic,
  METHODS_FILTER,
  parseCloudTopic,
  TWIN_DESIRED_FILTER,
  TWIN_RESPONSE_FILTER,
  twinGetTopic,
  twinReportedTopic,
} from "../iothub/topics.ts";
import type { MqttSession } from "../transport/mqtt.ts";

/** A direct method handler: returns IoT Hub's `{status, payload}`. */
export type MethodHandler = (payload: unknown) => Promise<MethodResult> | MethodResult;

/** A direct method's answer. */
export interface MethodResult {
  status: number;
  payload: unknown;
}

/** Options of {@linkcode createCloudHandler}. */
export interface CloudOptions {
  identity: Identity;
  log: Logger;
  /** Direct methods by name. */
  methods: Record<string, MethodHandler>;
  /**
   * Applies desired properties (full set on connect, then patches); returns
   * the values now in effect, which are reported back.
   */
  onDesired(desired: Record<string, unknown>): Record<string, unknown>;
  /** Reported properties that describe the agent (version, sensors, ...). */
  describe(): Record<string, unknown>;
  /** Give up on a twin request after this long, ms. @default 30000 */
  twinTimeoutMs?: number;
}

/** Counters for status and tests. */
export interface CloudStats {
  c2dReceived: number;
  methodsCalled: number;
  desiredVersion?: number;
}

/** Attaches to each new session. */
export interface CloudHandler {
  readonly stats: CloudStats;
  /** Subscribes and starts handling; the twin GET continues in the background. */
  attach(session: MqttSession): Promise<void>;
}

const decoder = new TextDecoder();

function parseJson(bytes: Uint8Array): unknown {
  const text = decoder.decode(bytes).trim();
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Creates the handler. */
export function createCloudHandler(options: CloudOptions): CloudHandler {
  const log = options.log;
  const twinTimeoutMs = options.twinTimeoutMs ?? 30_000;
  const stats: CloudStats = { c2dReceived: 0, methodsCalled: 0 };
  let rid = 0;

  const attach = async (session: MqttSession) => {
    const pending = new Map<string, (status: number, body: unknown) => void>();
    const request = (topic: (rid: string) => string, body: string) =>
      new Promise<{ status: number; body: unknown }>((resolve, reject) => {
        const id = String(++rid);
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`no twin response within ${Math.round(twinTimeoutMs / 1000)} s`));
        }, twinTimeoutMs);
        pending.set(id, (status, response) => {
          clearTimeout(timer);
          pending.delete(id);
          resolve({ status, body: response });
        });
        session.publish(topic(id), body, 0).catch((error) => {
          clearTimeout(timer);
          pending.delete(id);
          reject(error);
        });
      });

    const report = async (patch: Record<string, unknown>) => {
      const { status } = await request(twinReportedTopic, JSON.stringify(patch));
      if (status < 200 || status > 299) {
        throw new Error(`the gateway answered ${status} to a reported-properties update`);
      }
    };
    const apply = (desired: Record<string, unknown>) => {
      const version = typeof desired.$version === "number" ? desired.$version : undefined;
      const rest = { ...desired };
      delete rest.$version;
      const applied = options.onDesired(rest);
      if (version !== undefined) stats.desiredVersion = version;
      return { ...applied, ...(version !== undefined ? { desiredVersion: version } : {}) };
    };

    session.onMessage((topic, payload) => {
      const t = parseCloudTopic(topic);
      switch (t.kind) {
        case "twin-response":
          pending.get(t.rid)?.(t.status, parseJson(payload));
          return;
        case "twin-desired": {
          const patch = parseJson(payload);
          if (patch === null || typeof patch !== "object" || Array.isArray(patch)) {
            log.warn("ignored a desired-properties patch that is not a JSON object");
            return;
          }
          const applied = apply({
            ...(patch as Record<string, unknown>),
            ...(t.version ? { $version: t.version } : {}),
          });
          report(applied).catch((e) =>
            log.warn("could not report applied desired properties", { error: String(e) })
          );
          return;
        }
        case "method-request": {
          stats.methodsCalled++;
          const handler = Object.hasOwn(options.methods, t.name)
            ? options.methods[t.name]
            : undefined;
          const respond = (r: MethodResult) =>
            session.publish(
              methodResponseTopic(r.status, t.rid),
              JSON.stringify(r.payload ?? null),
              0,
            )
              .catch((e) => log.warn(`could not answer method "${t.name}"`, { error: String(e) }));
          if (!handler) {
            log.info(`direct method "${t.name}" is not supported`);
            respond({
              status: 404,
              payload: {
                message: `unknown method "${t.name}"`,
                methods: Object.keys(options.methods),
              },
            });
            return;
          }
          Promise.resolve().then(() => handler(parseJson(payload))).then(respond, (e) => {
            log.warn(`direct method "${t.name}" failed`, { error: String(e) });
            respond({
              status: 500,
              payload: { message: String(e instanceof Error ? e.message : e) },
            });
          });
          return;
        }
        case "c2d": {
          stats.c2dReceived++;
          let properties: Record<string, string> = {};
          try {
            properties = flattenBag(decodePropertyBag(t.bag));
          } catch { /* keep what we have */ }
          const body = decoder.decode(payload);
          log.info("cloud-to-device message", {
            mid: properties["$.mid"] ?? "",
            bytes: payload.length,
            body: body.length > 200 ? `${body.slice(0, 200)}…` : body,
          });
          return;
        }
        default:
          log.debug("ignored a message on an unexpected topic", { topic });
      }
    });

    const granted = await session.subscribe([
      { topic: TWIN_RESPONSE_FILTER, qos: 0 },
      { topic: TWIN_DESIRED_FILTER, qos: 0 },
      { topic: METHODS_FILTER, qos: 0 },
      { topic: c2dFilter(options.identity), qos: 1 },
    ]);
    if (granted.some((q) => q === 128)) {
      log.warn("the gateway refused some twin/method/C2D subscriptions");
    }

    // In the background: the full twin, then what this agent is and applies.
    (async () => {
      const { status, body } = await request(twinGetTopic, " ");
      if (status !== 200 || body === null || typeof body !== "object") {
        throw new Error(`the gateway answered ${status} to a twin GET`);
      }
      const desired = ((body as Record<string, unknown>).desired ?? {}) as Record<string, unknown>;
      await report({ ...options.describe(), ...apply(desired) });
    })().catch((e) =>
      log.warn("device twin unavailable; telemetry continues", {
        error: String(e instanceof Error ? e.message : e),
      })
    );
  };

  return { stats, attach };
}
