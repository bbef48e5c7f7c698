/**
 * The dev gateway: edgeHub's device-facing MQTT surface on aedes over
 * node:tls. It authenticates devices like edgeHub (auth.ts), enforces its
 * topic rules (acl.ts), records telemetry before acknowledging it, and serves
 * twins, methods and C2D (cloud.ts) with an optional admin API (admin.ts).
 *
 * @example
 * ```ts
 * await using gateway = await startGateway({ certsDir: "./certs", port: 0, registry });
 * console.log(`mqtts://${gateway.host}:${gateway.port}`);
 * ```
 *
 * @module
 */
import { Aedes, type Client } from "aedes";
import { Buffer } from "node:buffer";
import { X509Certificate } from "node:crypto";
import type { EventEmitter } from "node:events";
import tls from "node:tls";
import { ConfigError } from "../errors.ts";
import { splitPem } from "../trust/pem.ts";
import { loadGatewayServerCert } from "../trust/gateway_cert.ts";
import { type AdminServer, startAdmin } from "./admin.ts";
import { createHooks, type HookState } from "./hooks.ts";
import { CloudSide } from "./cloud.ts";
import { type GatewayEvent, Monitor, type NumberedRecord } from "./monitor.ts";
import type { DeviceAuthKind, Registry } from "./registry.ts";
import type { DeviceSession } from "./session.ts";
import { TelemetryLog, type TelemetryRecord } from "./telemetry_log.ts";
import { TwinStore } from "./twin_store.ts";

/** Options of {@linkcode startGateway}. */
export interface GatewayOptions {
  /** Folder written by `leaf certs create` (server certificate, key and root). */
  certsDir: string;
  /** Devices that may connect. */
  registry: Registry;
  /** The gateway's hostname: picks the server certificate. @default "localhost" */
  hostname?: string;
  /** Address to listen on. @default "127.0.0.1" */
  bind?: string;
  /** MQTT/TLS port; 0 picks a free one. @default 8883 */
  port?: number;
  /** Admin HTTP port on 127.0.0.1; 0 picks a free one. @default off */
  adminPort?: number;
  /** Append accepted telemetry as JSON lines here. @default none */
  outFile?: string;
  /** Keep twins in this folder across restarts. @default in memory */
  stateDir?: string;
  /** IoT Hub name a SAS audience may name besides the gateway. @default any host */
  hubName?: string;
  /** Where log lines go. @default console.log */
  log?: (line: string) => void;
}

/** Defaults of {@linkcode GatewayOptions}. */
export const GATEWAY_DEFAULTS = { hostname: "localhost", bind: "127.0.0.1", port: 8883 } as const;

/** How a simulated outage behaves: close every connection, or accept TLS and never answer CONNECT. */
export type OutageMode = "drop" | "no-connack";

/** One registered identity as `GET /devices` lists it. */
export interface DeviceStatus {
  id: string;
  auth: DeviceAuthKind;
  enabled: boolean;
  connected: boolean;
  received: number;
  dropped: number;
  c2dPending: number;
  lastMessageAt?: string;
}

/** A running dev gateway. */
export interface Gateway extends AsyncDisposable {
  /** The hostname devices connect to (the server certificate's name). */
  readonly host: string;
  readonly bind: string;
  readonly port: number;
  readonly adminPort?: number;
  /** The test root CA devices pin. */
  readonly rootPem: string;
  /** Twins, methods and C2D, as the admin API uses them. */
  readonly cloud: CloudSide;
  /** Recent accepted telemetry (the last 1000), oldest first. */
  telemetry(): TelemetryRecord[];
  /** Recent telemetry after sequence number `since`. */
  telemetrySince(since: number): { last: number; messages: NumberedRecord[] };
  /** Totals of accepted and dropped telemetry. */
  counts(): { received: number; dropped: number };
  /** Every registered identity with its state and counters. */
  devices(): DeviceStatus[];
  /** Identity ids (`d` or `d/m`) connected now. */
  connected(): string[];
  /** Adds an event listener; returns its remover. */
  on(listener: (event: GatewayEvent) => void): () => void;
  /** Closes the connection of identity `id`; returns how many were closed. */
  disconnect(id: string): number;
  /** Starts (`drop`, `no-connack`) or ends (`null`) a simulated outage. */
  setOutage(mode: OutageMode | null): void;
  close(): Promise<void>;
}

/** Starts the dev gateway; resolves once it listens. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const hostname = options.hostname ?? GATEWAY_DEFAULTS.hostname;
  const bind = options.bind ?? GATEWAY_DEFAULTS.bind;
  const log = options.log ?? ((line: string) => console.log(line));
  const serverCert = await loadGatewayServerCert(options.certsDir, hostname);
  const trustRoots = splitPem(serverCert.rootPem, serverCert.path)
    .filter((b) => b.type === "CERTIFICATE").map((b) => new X509Certificate(b.der));
  const twins = await TwinStore.open(options.stateDir);
  const telemetryLog = options.outFile ? await TelemetryLog.open(options.outFile) : undefined;
  const monitor = new Monitor();
  const byId = new Map<string, DeviceSession>();
  const cloud = new CloudSide({
    registry: options.registry,
    twins,
    session: (id) => byId.get(id),
    log,
  });
  const state: HookState = {
    policy: {
      registry: options.registry,
      gatewayHostname: hostname,
      hubName: options.hubName,
      trustRoots,
    },
    sessions: new Map(),
    byId,
    cloud,
    monitor,
    telemetryLog,
    log,
  };
  const broker = await Aedes.createBroker({ connectTimeout: 60_000, ...createHooks(state) });
  (broker as EventEmitter).on("error", (error: Error) => log(`gateway error: ${error.message}`));
  broker.on("clientReady", (client: Client) => {
    const session = state.sessions.get(client);
    if (session) cloud.pump(session.identity.deviceId);
  });
  broker.on("subscribe", (_subs: unknown, client: Client) => {
    const session = state.sessions.get(client);
    if (session) cloud.pump(session.identity.deviceId);
  });

  const sockets = new Set<tls.TLSSocket>();
  const stalled = new Set<tls.TLSSocket>();
  let outage: OutageMode | null = null;
  // requestCert without rejectUnauthorized: the server *asks* devices for a
  // certificate and decides at CONNECT (auth.ts checks thumbprint or chain to
  // the gateway's root, as edgeHub does, gateway-anchors.md §2.1). This is the
  // server judging a client; the devices still verify this server in full.
  const server = tls.createServer({
    cert: serverCert.certPem,
    key: serverCert.keyPem,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: "TLSv1.2",
  });
  server.on("secureConnection", (socket: tls.TLSSocket) => {
    sockets.add(socket);
    socket.on("close", () => {
      sockets.delete(socket);
      stalled.delete(socket);
    });
    socket.on("error", () => {/* reported by aedes or irrelevant after close */});
    if (outage === "drop") return void socket.destroy();
    if (outage === "no-connack") return void stalled.add(socket);
    readAllOnRead(socket);
    const client = broker.handle(socket);
    tapPackets(client, state);
    socket.on("close", () => {
      const session = state.sessions.get(client);
      if (!session) return;
      state.sessions.delete(client);
      session.end();
      if (byId.get(session.id) === session) byId.delete(session.id);
      log(`disconnected ${session.id}`);
      monitor.emit({ type: "disconnected", id: session.id });
    });
  });
  server.on("tlsClientError", (error: Error) => log(`TLS handshake failed: ${error.message}`));

  let admin: AdminServer | undefined;
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      cloud.close();
      await admin?.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      telemetryLog?.close();
    })();
  try {
    await listen(server, options.port ?? GATEWAY_DEFAULTS.port, bind);
  } catch (error) {
    await close();
    throw error;
  }
  const port = (server.address() as { port: number }).port;

  const gateway: Gateway = {
    host: hostname,
    bind,
    port,
    get adminPort() {
      return admin?.port;
    },
    rootPem: serverCert.rootPem,
    cloud,
    telemetry: () => monitor.since(0).messages.map(({ seq: _seq, ...record }) => record),
    telemetrySince: (since) => monitor.since(since),
    counts: () => monitor.totals(),
    devices: () => listDevices(options.registry, byId, monitor, cloud),
    connected: () => [...byId.keys()],
    on: (listener) => monitor.on(listener),
    disconnect(id) {
      const matching = [...state.sessions.values()].filter((s) => s.id === id);
      for (const session of matching) session.close();
      return matching.length;
    },
    setOutage(mode) {
      outage = mode;
      if (mode === "drop") { for (const session of state.sessions.values()) session.close(); }
      if (mode !== "no-connack") { for (const socket of stalled) socket.destroy(); }
      log(mode ? `outage started (${mode})` : "outage ended");
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  if (options.adminPort !== undefined) {
    try {
      admin = await startAdmin({ port: options.adminPort, gateway });
    } catch (error) {
      await close();
      throw error;
    }
  }
  return gateway;
}

/** Listens, turning "address in use" and friends into a one-line ConfigError. */
function listen(server: tls.Server, port: number, bind: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error & { code?: string }) => {
      reject(
        new ConfigError(`Cannot listen on ${bind}:${port} (${error.code ?? error.message})`, {
          cause: error,
          hint: error.code === "EADDRINUSE"
            ? "another process uses the port: stop it or pass --port 0"
            : "check --bind and --port",
        }),
      );
    };
    server.once("error", onError);
    server.listen(port, bind, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/**
 * Makes `socket.read()` return everything buffered, as Node's does. Deno
 * 2.9's node:stream returns a single chunk and, while data stays buffered,
 * emits no further 'readable'; aedes reads once per 'readable', so any
 * PUBLISH over ~48 KB stalled the connection until the client gave up.
 */
function readAllOnRead(socket: tls.TLSSocket): void {
  const read = socket.read.bind(socket);
  socket.read = (size?: number) => {
    if (size !== undefined && size !== null) return read(size);
    const first = read();
    if (first === null) return null;
    const chunks: Buffer[] = [first];
    for (let next = read(); next !== null; next = read()) chunks.push(next);
    return chunks.length === 1 ? first : Buffer.concat(chunks);
  };
}

/**
 * Sees every packet before aedes handles it (aedes 1.2.0 keeps its parser as
 * `client._parser`; the version is pinned). Two things need it: PUBACKs for
 * messages the gateway published itself, and granting at most QoS 1 to a
 * SUBSCRIBE, because aedes answers with the QoS requested.
 */
function tapPackets(client: Client, state: HookState): void {
  const parser = (client as unknown as { _parser: EventEmitter })._parser;
  parser.prependListener("packet", (packet: Record<string, unknown>) => {
    if (packet.cmd === "puback") {
      state.sessions.get(client)?.onPuback(packet.messageId as number);
    } else if (packet.cmd === "subscribe") {
      for (const sub of packet.subscriptions as { qos: number }[]) sub.qos = Math.min(sub.qos, 1);
    }
  });
}

function listDevices(
  registry: Registry,
  byId: Map<string, DeviceSession>,
  monitor: Monitor,
  cloud: CloudSide,
): DeviceStatus[] {
  const rows: DeviceStatus[] = [];
  for (const device of registry.values()) {
    const ids: [string, DeviceAuthKind][] = [[device.id, device.auth]];
    for (const m of device.modules.keys()) ids.push([`${device.id}/${m}`, "sas"]);
    for (const [id, auth] of ids) {
      rows.push({
        id,
        auth,
        enabled: device.enabled,
        connected: byId.has(id),
        ...monitor.counters(id),
        c2dPending: id === device.id ? cloud.c2dPending(id) : 0,
      });
    }
  }
  return rows;
}
