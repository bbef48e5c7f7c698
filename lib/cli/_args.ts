/**
 * Command-line parsing shared by the commands: `node:util` `parseArgs` in
 * strict mode, with its errors turned into one-line usage errors (exit 2), and
 * the connection flags every gateway-facing command accepts.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../errors.ts";
import type { ConfigFlags } from "../config/load.ts";

/** Option specs for `parseArgs`. */
export type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;

/** Flags that select config, credentials and gateway. */
export const CONNECTION_OPTIONS = {
  config: { type: "string" },
  "connection-string": { type: "string" },
  ca: { type: "string" },
  port: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

/** Help text for {@linkcode CONNECTION_OPTIONS}. */
export const CONNECTION_HELP =
  `  --config FILE             config file (default: $LEAF_CONFIG, /etc/leaf/leaf.yaml, ./leaf.yaml)
  --connection-string CS    device connection string (or IOTHUB_DEVICE_CONNECTION_STRING)
  --ca FILE                 gateway root CA to pin (or IOTEDGE_ROOT_CA_CERT_PATH)
  --port N                  gateway port (default 8883)
  --cert FILE, --key FILE   device certificate and key, for x509=true`;

/** Parses `args` strictly; unknown flags and missing values become UsageError. */
export function parse<T extends OptionSpecs>(
  command: string,
  args: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (unknown) {
      throw new UsageError(`Unknown option "${unknown[1]}" for \`leaf ${command}\``, {
        hint: `run \`leaf ${command} --help\``,
      });
    }
    const positional = /Unexpected argument '([^']+)'/.exec(message);
    if (positional) {
      throw new UsageError(`Unexpected argument "${positional[1]}" for \`leaf ${command}\``, {
        hint: `run \`leaf ${command} --help\``,
      });
    }
    throw new UsageError(`leaf ${command}: ${message.replace(/\.$/, "").split("\n")[0]}`, {
      hint: `run \`leaf ${command} --help\``,
    });
  }
}

/** Parses an integer flag, or throws UsageError naming it. */
export function intFlag(
  name: string,
  value: string | undefined,
  { min = 0, max = Number.MAX_SAFE_INTEGER } = {},
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${name} "${value}" is not a whole number from ${min} to ${max}`);
  }
  return Number(value);
}

/** Config flags from parsed connection options. */
export function configFlags(values: Record<string, unknown>): ConfigFlags {
  const s = (k: string) => (typeof values[k] === "string" ? values[k] as string : undefined);
  const port = intFlag("port", s("port"), { min: 1, max: 65535 });
  return {
    ...(s("config") !== undefined ? { config: s("config") } : {}),
    ...(s("connection-string") !== undefined ? { connectionString: s("connection-string") } : {}),
    ...(s("ca") !== undefined ? { ca: s("ca") } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(s("cert") !== undefined ? { cert: s("cert") } : {}),
    ...(s("key") !== undefined ? { key: s("key") } : {}),
  };
}
