/**
 * Errors of an MQTT session mapped onto leaf's classes (see `classify.ts`),
 * plus the protocol violations only a session can see.
 *
 * @module
 */
import { LeafError, UnreachableError } from "../errors.ts";
import { classifyConnectError, type DialContext } from "./classify.ts";
import { ProtocolError } from "./mqtt_codec.ts";

/** What the session dials, for messages. */
export interface SessionTarget {
  host: string;
  address?: string;
  port: number;
  caFile?: string;
}

function dialContext(o: SessionTarget): DialContext {
  return {
    host: o.host,
    port: o.port,
    ...(o.address ? { address: o.address } : {}),
    ...(o.caFile ? { caFile: o.caFile } : {}),
  };
}

/** Classifies a session failure; unknown errors stay errors (bugs). */
export function classifySession(error: unknown, o: SessionTarget): LeafError | Error {
  if (error instanceof LeafError) return error;
  const known = classifyConnectError(error, dialContext(o));
  if (known) return known;
  if (error instanceof ProtocolError) {
    return new UnreachableError(
      `The gateway "${o.host}:${o.port}" broke the MQTT protocol: ${error.message}`,
      {
        code: "protocol",
        hint: "is this port an MQTT over TLS endpoint (8883)?",
        cause: error,
      },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}
