/**
 * The aedes hooks of the dev gateway: CONNECT (auth.ts decides), PUBLISH
 * (acl.ts classifies; telemetry is written before aedes sends the PUBACK),
 * SUBSCRIBE (own filters only, QoS ≤ 1) and forwarding (never: the gateway
 * publishes to devices itself, see session.ts).
 *
 * @module
 */
import type { AedesOptions, Client, ConnectPacket, PublishPacket, Subscription } from "aedes";
import { X509Certificate } from "node:crypto";
import type tls from "node:tls";
import { type AuthPolicy, type ConnectDecision, decideConnect, describeRefusal } from "./auth.ts";
import { classifyPublish, classifySubscription } from "./acl.ts";
import type { CloudSide } from "./cloud.ts";
import type { Monitor } from "./monitor.ts";
import { DeviceSession, type MqttClientHandle } from "./session.ts";
import {
  formatDroppedLine,
  formatTelemetryLine,
  type TelemetryLog,
  toRecord,
} from "./telemetry_log.ts";

/** What the hooks share with the broker. */
export interface HookState {
  policy: AuthPolicy;
  /** Authenticated sessions by aedes client. */
  sessions: Map<Client, DeviceSession>;
  /** The latest session of each identity id. */
  byId: Map<string, DeviceSession>;
  cloud: CloudSide;
  monitor: Monitor;
  telemetryLog?: TelemetryLog;
  log: (line: string) => void;
}

/** edgeHub's server keep-alive is 1.5 × the client's, at most 10 min; 0 means 10 min (§3.2). */
const KEEPALIVE_CAP_S = 400;

type Hooks = Required<
  Pick<
    AedesOptions,
    "preConnect" | "authenticate" | "authorizePublish" | "authorizeSubscribe" | "authorizeForward"
  >
>;

/** Builds the aedes hooks over `state`. */
export function createHooks(state: HookState): Hooks {
  const decisions = new WeakMap<Client, ConnectDecision>();
  const { log, monitor } = state;

  const preConnect: Hooks["preConnect"] = (client, packet: ConnectPacket, done) => {
    decideConnect({
      protocolVersion: packet.protocolVersion ?? 4,
      clientId: packet.clientId,
      username: packet.username,
      password: packet.password,
      certificates: peerChain(client.conn as tls.TLSSocket),
    }, state.policy).catch((error): ConnectDecision => ({
      code: 3,
      reason: `internal error: ${error instanceof Error ? error.message : error}`,
      who: packet.clientId,
    })).then((decision) => {
      decisions.set(client, decision);
      if (decision.code === 1) {
        // aedes answers CONNACK 1 itself for levels it does not know; the
        // authenticate hook cannot return 1, so let aedes see one of those.
        (packet as { protocolVersion: number }).protocolVersion = 0;
        refused(decision);
      }
      if (!packet.keepalive || packet.keepalive > KEEPALIVE_CAP_S) {
        packet.keepalive = KEEPALIVE_CAP_S;
      }
      done(null, true);
    });
  };

  const refused = (decision: ConnectDecision) => {
    log(describeRefusal(decision));
    monitor.emit({
      type: "refused",
      who: decision.who,
      code: decision.code,
      reason: decision.reason,
    });
  };

  const authenticate: Hooks["authenticate"] = (client, _username, _password, done) => {
    const decision = decisions.get(client);
    if (!decision || decision.code !== 0 || !decision.identity || !decision.auth) {
      const d = decision ?? { code: 5 as const, reason: "no decision", who: client.id };
      refused(d);
      const error = Object.assign(new Error(d.reason), { returnCode: d.code });
      return done(error as Parameters<typeof done>[0], false);
    }
    const session = new DeviceSession(
      client as Client & MqttClientHandle, // aedes keeps `subscriptions` on every client
      decision.identity,
      decision.auth,
      decision.expiresAt,
      (s) => closeBy(s, `its ${s.auth === "sas" ? "SAS token" : "certificate"} expired`),
    );
    state.sessions.set(client, session);
    state.byId.set(session.id, session);
    const until = decision.expiresAt
      ? `, valid until ${new Date(decision.expiresAt).toISOString()}`
      : "";
    log(`connected ${session.id} (${decision.auth}${until})`);
    monitor.emit({ type: "connected", id: session.id, auth: decision.auth });
    done(null, true);
  };

  /** Logs why the gateway ends a connection (aedes closes it when a hook fails). */
  const closing = (session: DeviceSession, reason: string) => {
    log(`closed ${session.id}: ${reason}`);
    monitor.emit({ type: "closed", id: session.id, reason });
  };
  const closeBy = (session: DeviceSession, reason: string) => {
    closing(session, reason);
    session.close();
  };

  const authorizePublish: Hooks["authorizePublish"] = (client, packet: PublishPacket, done) => {
    const session = client ? state.sessions.get(client) : undefined;
    if (!client) return done(null); // broker-internal (aedes' own $SYS traffic)
    if (!session) return done(new Error("not authenticated"));
    const payload = packet.payload instanceof Uint8Array
      ? packet.payload
      : new TextEncoder().encode(String(packet.payload ?? ""));
    const verdict = classifyPublish(session.identity, packet.topic, payload.length);
    const retain = packet.retain;
    packet.retain = false; // edgeHub never stores retained messages
    switch (verdict.kind) {
      case "forbidden":
        closing(session, verdict.reason);
        return done(new Error(verdict.reason));
      case "drop":
        log(formatDroppedLine(session.id, packet.topic, verdict.reason));
        monitor.dropped(session.id, verdict.reason);
        break;
      case "telemetry": {
        const record = toRecord(session.identity, verdict.bag, payload, new Date(), {
          retain,
          dup: packet.dup,
        });
        try {
          state.telemetryLog?.append(record);
        } catch (error) {
          // Like edgeHub when its store fails: no PUBACK, connection closed.
          closing(session, `cannot write --out (${(error as Error).message})`);
          return done(error as Error);
        }
        log(formatTelemetryLine(record));
        monitor.received(session.id, record);
        break;
      }
      case "twin-get":
        setImmediate(() => state.cloud.twinGet(session, verdict.rid));
        break;
      case "twin-reported":
        setImmediate(() => state.cloud.twinReported(session, verdict.rid, payload));
        break;
      case "method-response":
        setImmediate(() =>
          state.cloud.methodResponse(session, verdict.status, verdict.rid, payload)
        );
        break;
    }
    if (packet.qos === 2) {
      // edgeHub processes a QoS 2 message, then closes without PUBREC (§3.2).
      const reason = "QoS 2 publish (processed, then closed: edgeHub supports QoS 0 and 1 only)";
      closing(session, reason);
      return done(new Error(reason));
    }
    done(null);
  };

  const authorizeSubscribe: Hooks["authorizeSubscribe"] = (client, sub: Subscription, done) => {
    const session = state.sessions.get(client);
    const kind = session && classifySubscription(session.identity, sub.topic);
    if (!session || !kind) {
      log(`refused subscription of ${session?.id ?? client.id} to "${sub.topic}" (SUBACK 128)`);
      return done(null, null);
    }
    done(null, { ...sub, qos: Math.min(sub.qos, 1) as 0 | 1 });
  };

  // Devices only ever get what the gateway sends them itself (session.ts).
  const authorizeForward: Hooks["authorizeForward"] = () => null;

  return { preConnect, authenticate, authorizePublish, authorizeSubscribe, authorizeForward };
}

/** The client certificate chain a TLS socket received, leaf first. */
function peerChain(socket: tls.TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  if (typeof socket.getPeerCertificate !== "function") return chain;
  let cert = socket.getPeerCertificate(true) as tls.DetailedPeerCertificate | undefined;
  const seen = new Set<string>();
  while (cert?.raw && chain.length < 10) {
    const key = cert.raw.toString("base64");
    if (seen.has(key)) break;
    seen.add(key);
    try {
      chain.push(new X509Certificate(cert.raw));
    } catch {
      break;
    }
    cert = cert.issuerCertificate;
  }
  return chain;
}
