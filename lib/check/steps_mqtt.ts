/**
 * Steps 7 and 8 of `leaf check`: MQTT CONNECT with the configured
 * credentials (the sender's own `MqttSession` and a fresh token), then a twin
 * GET round trip, then DISCONNECT.
 *
 * @module
 */
import { EXIT, LeafError } from "../errors.ts";
import { authMode, clientIdOf } from "../iothub/connection_string.ts";
import { parseCloudTopic, TWIN_RESPONSE_FILTER, twinGetTopic } from "../iothub/topics.ts";
import { CONNACK_REASONS, errorCode } from "../transport/classify.ts";
import { createConnector } from "../transport/credentials.ts";
import { MqttSession } from "../transport/mqtt.ts";
import { outcomeOfError } from "./run.ts";
import { type CheckContext, fail, ok, type Step, type StepOutcome, warn } from "./step.ts";

const AUTH_FIX =
  "device unknown, wrong key, or not a child of the gateway: check the device's key (or certificate) in IoT Hub and set this gateway as its parent";

const CLOSED_FIX =
  "TLS worked but the MQTT CONNECT was not answered: is this port edgeHub's MQTT port? see `sudo iotedge logs edgeHub` on the gateway";

/** 7. MQTT CONNECT and the CONNACK. */
export function mqttStep(): Step {
  return {
    name: "mqtt",
    needs: ["tls"],
    async run(ctx: CheckContext): Promise<StepOutcome> {
      const t = ctx.target!;
      const config = ctx.config!;
      const connector = await createConnector(t, {
        keepAliveMs: config.gateway.keepAlive,
        connectTimeoutMs: ctx.timeoutMs,
        ackTimeoutMs: ctx.timeoutMs,
        tokenLifetimeMs: config.auth.tokenLifetime,
      });
      const { options } = await connector.attempt(ctx.now().getTime());
      const clientId = clientIdOf(t.cs);
      const details = { clientId, username: options.username, auth: authMode(t.cs) };
      const started = performance.now();
      let session: MqttSession;
      try {
        session = await MqttSession.open(options);
      } catch (error) {
        const code = error instanceof LeafError ? errorCode(error.cause) : undefined;
        if (typeof code === "number" && CONNACK_REASONS[code] !== undefined) {
          const auth = code === 4 || code === 5;
          return fail(
            `the gateway refused "${clientId}": CONNACK ${code} (${CONNACK_REASONS[code]})`,
            auth ? AUTH_FIX : (error as LeafError).hint,
            auth ? EXIT.auth : (error as LeafError).exitCode,
            { details: { ...details, connack: code } },
          );
        }
        const outcome = outcomeOfError(error);
        // The session's hints point at `leaf check`; here, say what to look at instead.
        if (outcome.fix?.includes("leaf check")) outcome.fix = CLOSED_FIX;
        return { ...outcome, details };
      }
      ctx.session = session;
      ctx.cleanups.push(() => session.end());
      const ms = Math.round(performance.now() - started);
      return ok(`CONNACK 0 (accepted) for "${clientId}" in ${ms} ms`, {
        details: { ...details, connack: 0, ms },
      });
    },
  };
}

/** 8. Twin GET round trip (a warning at worst), then disconnect. */
export function twinStep(): Step {
  return {
    name: "twin",
    needs: ["mqtt"],
    async run(ctx: CheckContext): Promise<StepOutcome> {
      const session = ctx.session!;
      const rid = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const answered = new Promise<{ status: number; bytes: number }>((resolve) => {
          session.onMessage((topic, payload) => {
            const parsed = parseCloudTopic(topic);
            if (parsed.kind === "twin-response" && parsed.rid === rid) {
              resolve({ status: parsed.status, bytes: payload.byteLength });
            }
          });
        });
        const [granted] = await session.subscribe([{ topic: TWIN_RESPONSE_FILTER, qos: 0 }]);
        if (granted === 128) {
          return warn(
            `the gateway refused the subscription to ${TWIN_RESPONSE_FILTER}`,
            "twin requests cannot be answered; telemetry is not affected",
          );
        }
        const started = performance.now();
        await session.publish(twinGetTopic(rid), "", 0);
        const timeout = new Promise<undefined>((r) =>
          timer = setTimeout(() => r(undefined), ctx.timeoutMs)
        );
        const answer = await Promise.race([answered, timeout]);
        const ms = Math.round(performance.now() - started);
        if (answer === undefined) {
          return warn(
            `no answer to twin GET within ${ctx.timeoutMs / 1000} s`,
            "edgeHub answers from IoT Hub or its cache; it may be offline from the hub. Telemetry is not affected (edgeHub stores and forwards)",
            { details: { rid, answered: false } },
          );
        }
        const details = { rid, status: answer.status, ms, bytes: answer.bytes };
        if (answer.status !== 200) {
          return warn(
            `twin GET answered ${answer.status} in ${ms} ms`,
            answer.status === 429
              ? "the hub is throttling twin reads; retry later"
              : "the gateway or hub could not serve the twin; telemetry is not affected",
            { details },
          );
        }
        return ok(`twin GET answered 200 in ${ms} ms (${answer.bytes} bytes), then disconnected`, {
          details,
        });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return warn(`twin GET failed: ${message}`, "telemetry may still work; run `leaf send`");
      } finally {
        clearTimeout(timer);
        await session.end();
      }
    },
  };
}
