/**
 * leaf's config file schema (YAML keys per the CLI contract) and the typed
 * config the rest of the code reads. Durations are milliseconds, sizes bytes.
 *
 * @module
 */
import type { Secret } from "../secret.ts";
import type { Field, ObjectField } from "./schema_types.ts";

/** A sensor entry, as validated; fields depend on `type`. */
export interface SensorConfig {
  type: "system" | "simulated" | "thermal" | "hwmon" | "iio" | "w1" | "command" | "file";
  /** Label used in messages. */
  name?: string;
  /** Read interval; defaults to `telemetry.interval`. */
  interval?: number;
  /** Abandon a read after this long. */
  timeout?: number;
  [key: string]: unknown;
}

/** The validated, defaulted config. */
export interface Config {
  connectionString?: Secret;
  connectionStringFile?: string;
  gateway: {
    caCert?: string;
    port?: number;
    address?: string;
    keepAlive: number;
    connectTimeout: number;
    ackTimeout: number;
  };
  auth: {
    tokenLifetime: number;
    x509?: { cert: string; key: string };
  };
  reconnect: { minDelay: number; maxDelay: number };
  stateDir: string;
  telemetry: {
    interval: number;
    batch?: { maxBytes: number; maxDelay: number };
  };
  sysfsRoot: string;
  procfsRoot: string;
  sensors: SensorConfig[];
  outbox: {
    maxBytes: number;
    maxAge?: number;
    commitInterval: number;
    commitEvery: number;
    window: number;
    synchronous: "full" | "normal";
  };
  log: {
    level: "debug" | "info" | "warn" | "error";
    format: "text" | "json";
    statusInterval: number;
  };
  shutdownTimeout: number;
}

const common: Record<string, Field> = {
  name: { type: "string", doc: "label used in messages" },
  interval: { type: "duration", doc: "read interval (default telemetry.interval)", min: 10 },
  timeout: { type: "duration", doc: "abandon a read after this long", min: 10 },
};

function sensor(fields: Record<string, Field>, required: string[] = []): ObjectField {
  return { type: "object", doc: "sensor", fields: { ...common, ...fields }, required };
}

/** The whole schema. */
export const SCHEMA: ObjectField = {
  type: "object",
  doc: "leaf config",
  always: true,
  fields: {
    connectionString: {
      type: "string",
      secret: true,
      doc: "HostName=...;DeviceId=...;SharedAccessKey=...;GatewayHostName=...",
    },
    connectionStringFile: {
      type: "path",
      doc: "file holding the connection string (systemd LoadCredential=)",
    },
    gateway: {
      type: "object",
      doc: "the IoT Edge gateway",
      always: true,
      fields: {
        caCert: { type: "path", doc: "root CA file pinned for TLS" },
        port: {
          type: "int",
          doc: "MQTT/TLS port (default: GatewayHostName's port, else 8883)",
          min: 1,
          max: 65535,
        },
        address: { type: "string", doc: "connect to this address, verify the gateway name" },
        keepAlive: {
          type: "duration",
          doc: "MQTT keep-alive",
          default: 60_000,
          min: 5_000,
          max: 1_740_000,
        },
        connectTimeout: {
          type: "duration",
          doc: "give up on a CONNACK after",
          default: 30_000,
          min: 100,
        },
        ackTimeout: { type: "duration", doc: "PUBACK deadline", default: 30_000, min: 100 },
      },
    },
    auth: {
      type: "object",
      doc: "device authentication",
      always: true,
      fields: {
        tokenLifetime: {
          type: "duration",
          doc: "SAS token lifetime; renewed at 80 %",
          default: 3_600_000,
          min: 1_000,
          max: 86_400_000,
        },
        x509: {
          type: "object",
          doc: "device certificate for x509=true",
          fields: {
            cert: { type: "path", doc: "device certificate (full chain) PEM" },
            key: { type: "path", doc: "device private key PEM" },
          },
          required: ["cert", "key"],
        },
      },
    },
    reconnect: {
      type: "object",
      doc: "reconnect backoff",
      always: true,
      fields: {
        minDelay: { type: "duration", doc: "first retry delay", default: 100, min: 1 },
        maxDelay: { type: "duration", doc: "backoff cap", default: 30_000, min: 1 },
      },
    },
    stateDir: { type: "path", doc: "outbox database and counters", default: "/var/lib/leaf" },
    telemetry: {
      type: "object",
      doc: "telemetry",
      always: true,
      fields: {
        interval: { type: "duration", doc: "default read interval", default: 10_000, min: 10 },
        batch: {
          type: "object",
          doc: "pack ticks into one message",
          fields: {
            maxBytes: {
              type: "bytes",
              doc: "message size target (IoT Hub meters 4 KB units)",
              default: 4096,
              min: 256,
              max: 256 * 1024,
            },
            maxDelay: {
              type: "duration",
              doc: "send at the latest after",
              default: 30_000,
              min: 10,
            },
          },
        },
      },
    },
    sysfsRoot: { type: "path", doc: "root of sysfs", default: "/sys" },
    procfsRoot: { type: "path", doc: "root of procfs", default: "/proc" },
    sensors: {
      type: "list",
      doc: "sensors to read",
      default: [{ type: "system" }],
      item: {
        type: "tagged",
        doc: "sensor",
        tag: "type",
        variants: {
          system: sensor({}),
          simulated: sensor({
            seed: { type: "int", doc: "random seed", default: 1 },
          }),
          thermal: sensor({ zone: { type: "string", doc: "the zone's type file" } }, ["zone"]),
          hwmon: sensor({ chip: { type: "string", doc: "the chip's name file" } }, ["chip"]),
          iio: sensor({ device: { type: "string", doc: "the IIO device's name file" } }, [
            "device",
          ]),
          w1: sensor({ id: { type: "string", doc: "28-... id; default all" } }),
          command: sensor({
            run: { type: "strings", doc: "argv, no shell", minItems: 1 },
            unit: { type: "string", doc: "unit of a plain number" },
          }, ["run"]),
          file: sensor({
            path: { type: "path", doc: "file holding one number" },
            scale: { type: "number", doc: "multiplier", default: 1 },
            unit: { type: "string", doc: "unit of the value" },
          }, ["path"]),
        },
      },
    },
    outbox: {
      type: "object",
      doc: "durable outbox",
      always: true,
      fields: {
        maxBytes: {
          type: "bytes",
          doc: "bound; oldest dropped",
          default: 64 * 1024 * 1024,
          min: 1024,
        },
        maxAge: { type: "duration", doc: "drop messages older than", min: 1_000 },
        commitInterval: {
          type: "duration",
          doc: "commit at least this often",
          default: 1_000,
          min: 1,
        },
        commitEvery: { type: "int", doc: "or every N messages", default: 100, min: 1 },
        window: { type: "int", doc: "in-flight QoS 1 publishes", default: 32, min: 1, max: 1024 },
        synchronous: {
          type: "enum",
          doc:
            "full: commits survive power loss (one fsync per batch); normal: survive kill -9 only",
          values: ["full", "normal"],
          default: "full",
        },
      },
    },
    log: {
      type: "object",
      doc: "logging",
      always: true,
      fields: {
        level: {
          type: "enum",
          doc: "",
          values: ["debug", "info", "warn", "error"],
          default: "info",
        },
        format: { type: "enum", doc: "", values: ["text", "json"], default: "text" },
        statusInterval: {
          type: "duration",
          doc: "status line period",
          default: 60_000,
          min: 1_000,
        },
      },
    },
    shutdownTimeout: { type: "duration", doc: "wait for acks on stop", default: 5_000, min: 0 },
  },
};
