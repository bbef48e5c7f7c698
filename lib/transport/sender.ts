/**
 * The sender: owns the one MQTT connection and drains queued messages through
 * it in order, with a window of in-flight QoS 1 publishes.
 *
 * - Reconnects with capped, fully jittered exponential backoff; network-class
 *   failures are retried forever, TLS-trust and auth failures slowly, with an
 *   error line each time (they need a human).
 * - Renews a SAS token as a planned reconnect at 80 % of its lifetime: pause,
 *   wait (bounded) for in-flight PUBACKs, DISCONNECT, CONNECT with a fresh
 *   token, resume. The schedule follows the wall clock and survives jumps.
 * - Unacknowledged messages are resent after a reconnect with the same
 *   `$.mid` (at-least-once; receivers dedupe on it).
 *
 * @module
 */
import { LeafError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Identity } from "../iothub/topics.ts";
import type { PackOptions } from "../agent/pack.ts";
import { type BackoffOptions, createBackoff } from "./backoff.ts";
import { clockError, clockIsBeforeRelease } from "./classify.ts";
import type { Connector } from "./credentials.ts";
import { MqttSession } from "./mqtt.ts";
import { type MessageSource, type Pump, type PumpOptions, startPump } from "./_pump.ts";

export type { MessageSource, QueuedMessage } from "./_pump.ts";

/** Counters for status lines and tests. */
export interface SenderStats {
  connected: boolean;
  sent: number;
  acked: number;
  inFlight: number;
  connects: number;
  reconnects: number;
  renewals: number;
  lastError?: string;
}

/** Options of {@linkcode createSender}. */
export interface SenderOptions {
  connector: Connector;
  source: MessageSource;
  identity: Identity;
  log: Logger;
  /** In-flight QoS 1 publishes. @default 32 */
  window?: number;
  /** Reconnect delays. */
  backoff?: BackoffOptions;
  /** Renew a SAS token at this fraction of its lifetime. @default 0.8 */
  renewAt?: number;
  /** Least delay before retrying after a TLS-trust or auth failure, ms. @default 60000 */
  slowRetryMs?: number;
  /** How long a renewal waits for in-flight PUBACKs, ms. @default 10000 */
  drainTimeoutMs?: number;
  /** Pack consecutive ticks into one message (config `telemetry.batch`); off when undefined. */
  pack?: PackOptions;
  /** Called after each CONNACK (subscribe to twin/methods/C2D here). */
  onSession?: (session: MqttSession) => Promise<void> | void;
  /** Wall clock. @default Date.now */
  now?: () => number;
  /** Random source for jitter. @default Math.random */
  random?: () => number;
}

/** The running sender. */
export interface Sender {
  readonly stats: SenderStats;
  /** The current session, when connected. */
  readonly session: MqttSession | undefined;
  /** Stops: no new publishes, waits up to `timeoutMs` for in-flight acks, disconnects. */
  stop(timeoutMs: number): Promise<void>;
}

/** Starts the sender loop. */
export function createSender(options: SenderOptions): Sender {
  const slowRetryMs = options.slowRetryMs ?? 60_000;
  const now = options.now ?? Date.now;
  const log = options.log;
  const backoff = createBackoff({
    ...options.backoff,
    ...(options.random ? { random: options.random } : {}),
  });
  const target = options.connector.target;
  const where = `${target.host}:${target.port}`;

  const stats: SenderStats = {
    connected: false,
    sent: 0,
    acked: 0,
    inFlight: 0,
    connects: 0,
    reconnects: 0,
    renewals: 0,
  };
  const pumpOptions: PumpOptions = {
    source: options.source,
    identity: options.identity,
    stats,
    window: options.window ?? 32,
    renewAt: options.renewAt ?? 0.8,
    drainTimeoutMs: options.drainTimeoutMs ?? 10_000,
    pack: options.pack,
    now,
    log,
  };
  let stopping = false;
  let session: MqttSession | undefined;
  let wakeSleep: (() => void) | undefined;
  let pump: Pump | undefined;
  let stopDeadline = 0;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        wakeSleep = undefined;
        resolve();
      }, ms);
      wakeSleep = () => {
        clearTimeout(t);
        wakeSleep = undefined;
        resolve();
      };
    });

  const maxDelay = options.backoff?.maxDelay ?? 30_000;
  /** A link that stayed up this long resets the backoff. */
  const stableMs = Math.max(maxDelay, 10_000);
  let lostLogged = -Infinity;
  let lostSuppressed = 0;
  /** "connection lost" at most every 10 s, with a count of the ones in between. */
  const lostLog = (reason: string, delay: number) => {
    if (now() - lostLogged < 10_000 && now() >= lostLogged) {
      lostSuppressed++;
      return;
    }
    const more = lostSuppressed > 0 ? ` (${lostSuppressed} more since the last report)` : "";
    lostSuppressed = 0;
    lostLogged = now();
    log.warn(
      `connection to ${where} lost: ${reason}; reconnecting in ${
        (delay / 1000).toFixed(1)
      } s${more}`,
    );
  };

  const run = async () => {
    let first = true;
    let clockLogged = -Infinity;
    while (!stopping) {
      if (clockIsBeforeRelease(new Date(now()))) {
        // Certificates and tokens cannot be judged with this clock; wait for NTP.
        if (now() - clockLogged > 60_000 || clockLogged > now()) {
          clockLogged = now();
          stats.lastError = clockError(new Date(now())).oneLine();
          log.error(`not connecting: ${stats.lastError}`);
        }
        await sleep(5_000);
        continue;
      }
      let attempt;
      try {
        attempt = await options.connector.attempt(now());
        const issuedAt = now();
        const s = await MqttSession.open(attempt.options);
        if (stopping) {
          await s.end();
          break;
        }
        session = s;
        stats.connected = true;
        stats.connects++;
        if (!first) stats.reconnects++;
        first = false;
        const connectedAt = now();
        log.info(`connected to ${where}`, {
          client: attempt.options.clientId,
          ...(attempt.expiresAt ? { tokenExpires: new Date(attempt.expiresAt).toISOString() } : {}),
        });
        // Twin, methods and C2D in the background: telemetry never waits
        // for a SUBACK or a twin answer (edgeHub may be cut off from the hub).
        Promise.resolve()
          .then(() => options.onSession?.(s))
          .catch((error) => {
            if (!stopping) {
              log.warn("subscribing to twin, methods and C2D failed; telemetry continues", {
                error: String(error instanceof Error ? error.message : error),
              });
            }
          });
        pump = startPump(
          pumpOptions,
          s,
          attempt.renewable ? attempt.expiresAt : undefined,
          issuedAt,
        );
        if (stopping) pump.stop(stopDeadline);
        const end = await pump.done;
        pump = undefined;
        session = undefined;
        stats.connected = false;
        if (end.kind === "renew") {
          stats.renewals++;
          await s.end();
          continue;
        }
        if (end.kind === "stop") {
          await s.end();
          break;
        }
        s.destroy(new LeafError("connection abandoned", 5, "closed"));
        const reason = end.error instanceof LeafError
          ? end.error.oneLine()
          : String(end.error ?? "closed");
        stats.lastError = reason;
        if (stopping) break;
        // Back to the first delay only after a link that held: a gateway that
        // accepts and drops at once (two devices sharing one identity) must not
        // be hammered every few milliseconds.
        if (now() - connectedAt >= stableMs) backoff.reset();
        const delay = backoff.next();
        lostLog(reason, delay);
        await sleep(delay);
      } catch (error) {
        session = undefined;
        stats.connected = false;
        if (stopping) break;
        const leaf = error instanceof LeafError ? error : undefined;
        const reason = leaf ? leaf.oneLine() : `unexpected error: ${String(error)}`;
        stats.lastError = reason;
        const needsHuman = !leaf || leaf.exitCode !== 5;
        const delay = needsHuman ? Math.max(slowRetryMs, backoff.next()) : backoff.next();
        const line = `${reason}; retrying in ${(delay / 1000).toFixed(1)} s`;
        if (needsHuman) log.error(line);
        else log.warn(line);
        await sleep(delay);
      }
    }
  };
  const running = run();

  return {
    stats,
    get session() {
      return session;
    },
    async stop(timeoutMs: number) {
      if (stopping) return running;
      stopping = true;
      stopDeadline = performance.now() + timeoutMs;
      wakeSleep?.();
      pump?.stop(stopDeadline);
      await running;
    },
  };
}
