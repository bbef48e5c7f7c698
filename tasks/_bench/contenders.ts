/**
 * The contenders, what a run of one records, and the measurement rules shared
 * by every runner. Every run gets its own device id (= client id), so the
 * observer's arrivals belong to exactly one process:
 *
 * - first PUBACK: the observer's first arrival minus the spawn time (the
 *   broker forwards a QoS 1 message as it acknowledges it);
 * - CONNACK: the broker's "New client connected" log line for the run's
 *   client id, stamped as the bench reads it;
 * - send phase: CONNACK to the N-th arrival; rate = N / that time;
 * - wall, peak RSS, CPU: spawn to exit, from `/usr/bin/time`. For `leaf run`
 *   (which never exits by itself) wall is spawn to the N-th arrival.
 *
 * @module
 */
import { createSasToken } from "../../lib/iothub/sas.ts";
import { buildUsername } from "../../lib/iothub/username.ts";
import type { Observer } from "./broker.ts";
import type { SdkInstall } from "./sdk.ts";

/** Families of contenders; `n` says how many messages. */
export type Kind =
  | "leaf-send"
  | "leaf-send-bin"
  | "leaf-run-drain"
  | "leaf-run-restart"
  | "sdk-seq"
  | "sdk-all"
  | "mqttjs"
  | "mosquitto_pub";

/** One contender: a kind and a message count. */
export interface Contender {
  /** Unique key, e.g. `leaf-send-2000`. */
  key: string;
  kind: Kind;
  n: number;
  /** Table label. */
  label: string;
}

/** One measured run. */
export interface Sample {
  round: number;
  key: string;
  kind: Kind;
  n: number;
  /** Spawn to exit (one-shot) or spawn to the N-th arrival (`leaf run`), ms. */
  wallMs: number;
  /** Peak resident set size, KiB. */
  maxRssKiB: number;
  userS: number;
  sysS: number;
  /** Spawn to the first arrival, ms. */
  firstAckMs: number;
  /** Spawn to CONNACK, ms. */
  connackMs?: number;
  /** CONNACK to the N-th arrival, ms (N ≥ 2). */
  sendPhaseMs?: number;
  /** N / sendPhase, messages per second (N ≥ 2). */
  perSec?: number;
  /** Messages the observer saw from this run. */
  arrivals: number;
  /** `leaf run`: spawn to the "connected to" log line, ms. */
  connectedMs?: number;
  /** `leaf run` with a backlog: median VmRSS while draining, KiB. */
  steadyRssKiB?: number;
  /** Why the first attempt failed, when this sample is from a second one. */
  retried?: string;
  /** What the contender printed about itself (diagnostics only). */
  own?: string;
}

/** Everything a run needs. */
export interface RunContext {
  /** Repository root (cwd of the harness scripts). */
  root: string;
  /** Checkout whose `main.ts` the leaf contenders run (default: `root`). */
  leafRoot: string;
  /** Scratch directory of this bench run. */
  work: string;
  host: string;
  port: number;
  /** Root CA every client pins. */
  caFile: string;
  observer: Observer;
  sdk: SdkInstall;
  /** Compiled leaf binary, when available. */
  leafBin?: string;
  /** Arrivals to wait for while sampling `leaf run` RSS with a backlog. */
  steadyCount: number;
}

/** IoT Hub name in connection strings and usernames (Mosquitto checks neither). */
export const HUB = "bench-hub.example.net";
const KEY = "bGVhZi1iZW5jaC1rZXktMDAwMDAwMDAwMDAwMDAwMA==";
/** Longest a run may take before it counts as hung, ms. */
export const RUN_TIMEOUT_MS = 300_000;
/**
 * `mosquitto_pub -l` polls its state every 100 ms (nanosleep) while it
 * connects and after stdin ends, so up to 2 × 100 ms of its wall time is
 * sleep, and its first publish waits for the first poll after CONNACK. Its
 * N = 1 run therefore uses `-m` (publish from the connect callback), and its
 * send phase for N ≥ 2 is timed from the first arrival instead of CONNACK.
 */
export const MOSQUITTO_PUB_NOTE =
  "mosquitto_pub: N=1 with -m; N≥2 with -l, whose wall includes up to 2 × 100 ms of polling sleeps and whose send phase is first → N-th arrival";

/** Labels per kind. */
export const KIND_LABEL: Record<Kind, string> = {
  "leaf-send": "leaf send",
  "leaf-send-bin": "leaf send (compiled)",
  "leaf-run-drain": "leaf run, drain outbox",
  "leaf-run-restart": "leaf run, restart with backlog",
  "sdk-seq": "SDK sendEvent awaited 1 by 1",
  "sdk-all": "SDK sendEvent all in flight",
  "mqttjs": "raw mqtt.js pipelined (Deno)",
  "mosquitto_pub": "mosquitto_pub (C)",
};

/** Builds a contender. */
export function contender(kind: Kind, n: number): Contender {
  return { key: `${kind}-${n}`, kind, n, label: `${KIND_LABEL[kind]}, N=${n}` };
}

/** A device connection string; the gateway is Mosquitto on localhost:port. */
export function connectionString(ctx: RunContext, deviceId: string): string {
  return `HostName=${HUB};DeviceId=${deviceId};SharedAccessKey=${KEY};GatewayHostName=${ctx.host}:${ctx.port}`;
}

/** Username and SAS token for a raw client (Mosquitto checks neither). */
export async function credentials(deviceId: string, clientType: string) {
  const token = await createSasToken({
    resourceUri: `${HUB}/devices/${deviceId}`,
    key: KEY,
    expiry: Date.now() / 1000 + 3600,
  });
  return { username: buildUsername(HUB, deviceId, clientType), password: token.reveal() };
}

/** Throws with the process output unless `ok`. */
export function check(ok: boolean, what: string, proc: { stdout(): string; stderr(): string }) {
  if (!ok) throw new Error(`${what}\nstdout: ${proc.stdout()}\nstderr: ${proc.stderr()}`);
}

/** Spawn → CONNACK, and the send phase CONNACK → N-th arrival with its rate. */
export function phase(
  ctx: RunContext,
  deviceId: string,
  startedAt: number,
  times: number[],
  n: number,
): Pick<Sample, "connackMs" | "sendPhaseMs" | "perSec"> {
  const connack = ctx.observer.connectedAt(deviceId);
  if (connack === undefined) return {};
  const connackMs = connack - startedAt;
  if (n < 2) return { connackMs };
  const sendPhaseMs = times[n - 1] - connack;
  return { connackMs, sendPhaseMs, perSec: n / (sendPhaseMs / 1000) };
}
