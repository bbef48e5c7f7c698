/**
 * Dialling the gateway: TCP, TLS with the pinned CA and the gateway's name,
 * MQTT CONNECT, and waiting (bounded) for CONNACK. Every failure is
 * classified (`_session_errors.ts`); on success the socket, its writer and
 * its packet reader pass to the session.
 *
 * @module
 */
import { isIP } from "node:net";
import tls from "node:tls";
import { UnreachableError } from "../errors.ts";
import { classifySession } from "./_session_errors.ts";
import { Wire } from "./_wire.ts";
import { encodeConnect, type Packet, PacketReader, ProtocolError } from "./mqtt_codec.ts";
import type { SessionOptions } from "./mqtt.ts";

/** A connection the gateway accepted. */
export interface Dialled {
  wire: Wire;
  reader: PacketReader;
  /** Packets that arrived after the CONNACK in the same read. */
  after: Packet[];
}

/** Connects and resolves once the gateway answered CONNECT with CONNACK 0. */
export function dial(options: SessionOptions): Promise<Dialled> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let firstError: unknown;
    const socket = tls.connect({
      host: options.address ?? options.host,
      port: options.port,
      // SNI and the name checked; an IP gateway is checked against its IP SAN.
      ...(isIP(options.host) === 0 ? { servername: options.host } : {}),
      ca: options.ca,
      ...(options.cert ? { cert: options.cert } : {}),
      ...(options.key ? { key: options.key.reveal() } : {}),
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
    });
    socket.setNoDelay(true);
    const wire = new Wire(socket);
    const reader = new PacketReader();
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(classifySession(error, options));
    };
    const timer = setTimeout(() => {
      fail(
        new UnreachableError(
          `No CONNACK from "${options.host}:${options.port}" within ${
            Math.round(options.connectTimeoutMs / 1000)
          } s`,
          {
            code: "timeout",
            hint:
              "the gateway accepted TCP but did not answer (TLS or MQTT CONNECT): check edgeHub's logs",
          },
        ),
      );
    }, options.connectTimeoutMs);
    socket.on("error", (error) => {
      firstError ??= error;
      fail(error);
    });
    socket.once("close", () => {
      fail(
        firstError ?? new UnreachableError(
          `The gateway "${options.host}:${options.port}" closed the connection before answering CONNECT`,
          { code: "closed", hint: "run `leaf check` to see where it fails" },
        ),
      );
    });
    socket.once("secureConnect", () => {
      if (!socket.authorized) {
        return fail(socket.authorizationError ?? new Error("TLS not authorized"));
      }
      wire.write(encodeConnect({
        clientId: options.clientId,
        username: options.username,
        ...(options.password ? { password: options.password.reveal() } : {}),
        keepAlive: options.keepAliveSeconds,
        clean: options.clean ?? false,
      }));
    });
    socket.on("data", (chunk: Uint8Array) => {
      if (settled) return;
      let packets: Packet[];
      try {
        packets = reader.push(chunk);
      } catch (error) {
        return fail(error);
      }
      const connack = packets[0];
      if (!connack) return;
      if (connack.type !== "connack") {
        return fail(new ProtocolError(`expected CONNACK, got ${connack.type}`));
      }
      if (connack.returnCode !== 0) {
        return fail({ code: connack.returnCode, message: "CONNACK refused" });
      }
      settled = true;
      clearTimeout(timer);
      // The session installs its own listeners before any further I/O event.
      socket.removeAllListeners("error");
      socket.removeAllListeners("close");
      socket.removeAllListeners("data");
      resolve({ wire, reader, after: packets.slice(1) });
    });
  });
}
