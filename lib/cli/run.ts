/**
 * `leaf run`: the agent. Sensors → durable outbox → gateway, until SIGTERM or
 * SIGINT; then it stops reading, commits the outbox, waits up to
 * `shutdownTimeout` for in-flight acknowledgements, disconnects and exits 0.
 *
 * Startup never waits for the gateway: config, outbox and sensors are ready
 * (and systemd is told so) even while the gateway is down.
 *
 * @module
 */
import { EXIT } from "../errors.ts";
import { loadConfig } from "../config/load.ts";
import { resolveTarget } from "../config/target.ts";
import { createLogger, redact } from "../log.ts";
import { createNotifier, statusText } from "../systemd/notify.ts";
import {
  createHeartbeat,
  createWatchdog,
  heartbeatTestHooks,
  staleAfter,
} from "../systemd/watchdog.ts";
import { MAX_MESSAGE_BYTES, shapeBody } from "../agent/message.ts";
import { utf8Length } from "../utf8.ts";
import { startLoop } from "../agent/loop.ts";
import { encodePropertyBag } from "../iothub/properties.ts";
import { createSensors } from "../sensors/create.ts";
import { createCloudHandler } from "../agent/cloud.ts";
import { formatDuration, parseDuration } from "../config/duration.ts";
import { VERSION } from "../version.ts";
import { openOutbox } from "../outbox/outbox.ts";
import { createConnector } from "../transport/credentials.ts";
import { createSender } from "../transport/sender.ts";
import { configFlags, CONNECTION_HELP, CONNECTION_OPTIONS, parse } from "./_args.ts";

const HELP = `Usage: leaf run [options]

Run the agent: read sensors, keep every message in the durable outbox
(stateDir/outbox.db) until the gateway acknowledges it, reconnect forever.
Stops on SIGTERM/SIGINT after flushing.

Options:
  --state-dir DIR           override stateDir
${CONNECTION_HELP}`;

/** The smallest interval the device twin may ask for (a fleet pays per message). */
const MIN_TWIN_INTERVAL_MS = 1_000;

/** Room for the property bag leaf adds to a message (`$.mid`, `$.ct`, `$.ce`, `$.ctime`, topic). */
const MAX_PROPS_BYTES = 512;

/** Waits for `promise`, at most `ms`. */
async function within(ms: number, promise: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise((r) => timer = setTimeout(r, ms))]);
  clearTimeout(timer);
}

/** Runs `leaf run`. */
export async function main(args: string[]): Promise<number> {
  const { values } = parse("run", args, { ...CONNECTION_OPTIONS, "state-dir": { type: "string" } });
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  const { config, file } = await loadConfig(configFlags(values));
  if (values["state-dir"] !== undefined) config.stateDir = values["state-dir"];
  const log = createLogger({ level: config.log.level, format: config.log.format });
  // First, before any child process starts: it takes NOTIFY_SOCKET out of the environment.
  const notifier = createNotifier({ log });
  const target = await resolveTarget(config);
  const connector = await createConnector(target, {
    keepAliveMs: config.gateway.keepAlive,
    connectTimeoutMs: config.gateway.connectTimeout,
    ackTimeoutMs: config.gateway.ackTimeout,
    tokenLifetimeMs: config.auth.tokenLifetime,
  });
  const sensors = createSensors(config);
  const outbox = openOutbox({
    stateDir: config.stateDir,
    maxBytes: config.outbox.maxBytes,
    ...(config.outbox.maxAge !== undefined ? { maxAge: config.outbox.maxAge } : {}),
    commitInterval: config.outbox.commitInterval,
    commitEvery: config.outbox.commitEvery,
    synchronous: config.outbox.synchronous,
    log,
  });
  const identity = {
    deviceId: target.cs.deviceId,
    ...(target.cs.moduleId ? { moduleId: target.cs.moduleId } : {}),
  };
  const startStats = outbox.stats();
  log.info("leaf started", {
    config: file ?? "(none)",
    device: identity.moduleId ? `${identity.deviceId}/${identity.moduleId}` : identity.deviceId,
    gateway: `${target.host}:${target.port}`,
    queued: startStats.depth,
    nextSeq: startStats.nextSeq,
    sensors: sensors.map((s) => s.sensor.name).join(","),
  });

  let oversize = 0;
  const heartbeat = createHeartbeat({
    staleAfterMs: staleAfter(sensors),
    log,
    ...heartbeatTestHooks(),
  });
  const loop = startLoop({
    onHeartbeat: heartbeat.beat,
    sensors,
    log,
    onTick(readings, scheduledAt) {
      // edgeHub acknowledges and then silently drops messages over 256 KB:
      // refuse such a tick here, loudly, instead of queueing a loss.
      const worst = JSON.stringify(
        shapeBody(identity.deviceId, Number.MAX_SAFE_INTEGER, readings, scheduledAt),
      );
      if (utf8Length(worst) + MAX_PROPS_BYTES > MAX_MESSAGE_BYTES) {
        oversize++;
        log.error("a tick's message is over IoT Hub's 256 KB limit and was not queued", {
          readings: readings.length,
          bytes: utf8Length(worst),
        });
        return;
      }
      outbox.append(scheduledAt, (seq, mid) => ({
        body: JSON.stringify(shapeBody(identity.deviceId, seq, readings, scheduledAt)),
        props: encodePropertyBag({
          messageId: mid,
          contentType: "application/json",
          contentEncoding: "utf-8",
          creationTime: new Date(scheduledAt).toISOString(),
        }),
      }));
    },
  });
  let defaultInterval = config.telemetry.interval;
  const startedAt = new Date().toISOString();
  const cloud = createCloudHandler({
    identity,
    log,
    methods: {
      ping: () => ({ status: 200, payload: { pong: true, time: new Date().toISOString() } }),
      getStatus: () => ({
        status: 200,
        payload: {
          ...statusLine(),
          outbox: outbox.stats(),
          sensors: Object.fromEntries(loop.stats),
          schedule: loop.timings(),
        },
      }),
      flush: () => {
        outbox.commit();
        return { status: 200, payload: { committedSeq: outbox.stats().committedSeq } };
      },
    },
    onDesired(desired) {
      const wanted = desired.telemetryInterval;
      if (wanted !== undefined) {
        const ms = typeof wanted === "number"
          ? wanted * 1000
          : typeof wanted === "string"
          ? parseDuration(wanted)
          : undefined;
        if (
          ms === undefined || !Number.isFinite(ms) || ms < MIN_TWIN_INTERVAL_MS || ms > 86_400_000
        ) {
          log.warn(
            "ignored desired telemetryInterval: use a duration from 1s to 24h, or seconds",
            {
              value: JSON.stringify(wanted),
            },
          );
        } else if (ms !== defaultInterval) {
          defaultInterval = ms;
          loop.setDefaultInterval(ms);
          heartbeat.setStaleAfter(staleAfter(loop.timings()));
          log.info("telemetry interval changed by the device twin", {
            interval: formatDuration(ms),
          });
        }
      }
      return { telemetryInterval: formatDuration(defaultInterval) };
    },
    describe: () => ({
      leaf: { version: VERSION, target: Deno.build.target, deno: Deno.version.deno, startedAt },
      sensors: sensors.map((s) => s.sensor.name),
    }),
  });
  const sender = createSender({
    connector,
    source: outbox,
    identity,
    log,
    window: config.outbox.window,
    backoff: { minDelay: config.reconnect.minDelay, maxDelay: config.reconnect.maxDelay },
    ...(config.telemetry.batch ? { pack: config.telemetry.batch } : {}),
    onSession: (session) => cloud.attach(session),
  });

  function statusLine() {
    const o = outbox.stats();
    const s = sender.stats;
    return {
      connected: s.connected,
      sent: s.sent,
      acked: s.acked,
      queued: o.depth,
      dropped: o.dropped,
      reconnects: s.reconnects,
      renewals: s.renewals,
      c2d: cloud.stats.c2dReceived,
      ...(oversize ? { oversize } : {}),
      ...(s.lastError ? { lastError: redact(s.lastError) } : {}),
    };
  }
  // Ready once config, outbox and sensors are: never waits for the gateway,
  // so an outage cannot fail the start.
  await notifier.ready(statusText(statusLine()));
  const watchdog = createWatchdog({
    notifier,
    intervalMs: notifier.watchdogInterval,
    isHealthy: heartbeat.isHealthy,
    log,
    describe: () => ({ heartbeatAge: `${Math.round(heartbeat.age())} ms` }),
  });
  watchdog.start();
  const status = setInterval(() => {
    const line = statusLine();
    log.info("status", line);
    void notifier.status(statusText(line));
  }, config.log.statusInterval);

  const signal = await new Promise<string>((resolve) => {
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      Deno.addSignalListener(sig, () => resolve(sig));
    }
  });
  // One deadline for the whole shutdown, taken at the signal. A second signal
  // means "now": commit what was read and go.
  const deadline = performance.now() + config.shutdownTimeout;
  const left = () => Math.max(0, deadline - performance.now());
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(sig, () => {
      log.warn(`${sig} again: exiting now`);
      try {
        outbox.commit();
        outbox.close();
      } finally {
        Deno.exit(EXIT.ok);
      }
    });
  }
  log.info(`${signal}: stopping`, { shutdownTimeout: `${config.shutdownTimeout} ms` });
  clearInterval(status);
  watchdog.stop();
  await notifier.stopping(`${signal}: stopping`);
  await loop.stop();
  outbox.commit();
  await within(left(), sender.stop(left()));
  outbox.commit();
  await within(
    Math.min(left(), 1_000),
    Promise.all(sensors.map((s) => s.sensor.close?.().catch(() => {}))),
  );
  log.info("stopped", statusLine());
  outbox.close();
  await notifier.close();
  return EXIT.ok;
}
