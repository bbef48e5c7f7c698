/**
 * Command-line parsing shared by the commands: `node:util` `parseArgs` in
 * strict mode, with its errors turned into one-line usage errors (exit 2), and
 * the connection flags every gateway-facing command accepts.
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "../errors.ts";
import { quoteArg, redact } from "../log.ts";
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
  --connection-string CS    device connection string (or IOTHUB_DEVICE_CONNECTION_STRING; the
                            variable or the config file keeps the key out of \`ps\`)
  --ca FILE                 gateway root CA to pin (or IOTEDGE_ROOT_CA_CERT_PATH)
  --port N                  gateway port (default 8883)
  --cert FILE, --key FILE   device certificate and key, for x509=true`;

/**
 * `--name -5` as `--name=-5` for string options, so a negative number reaches
 * the flag's own check ("not a whole number from 1 to ...") instead of
 * `parseArgs`' "argument is ambiguous".
 */
function joinNegativeValues(args: string[], options: OptionSpecs): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") return [...out, ...args.slice(i)];
    const name = arg.startsWith("--") && !arg.includes("=") ? arg.slice(2) : undefined;
    const next = args[i + 1];
    if (
      name !== undefined && Object.hasOwn(options, name) && options[name].type === "string" &&
      next !== undefined && /^-[\d.]/.test(next)
    ) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** The long flag named in a `parseArgs` message (`'-c, --count <value>'` → `--count`). */
function flagIn(message: string): string {
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? "";
  return /--\S+/.exec(quoted)?.[0] ?? quoted.split(" ")[0];
}

/**
 * Parses `args` strictly; unknown flags, missing values and unexpected
 * arguments become one-line {@linkcode UsageError}s (exit 2) that name the
 * flag or the argument's position, never a value that could be a secret.
 */
export function parse<T extends OptionSpecs>(
  command: string,
  args: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({
      args: joinNegativeValues(args, options),
      options,
      strict: true,
      allowPositionals,
    });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== "string" || !code.startsWith("ERR_PARSE_ARGS_")) throw error;
    const message = error instanceof Error ? error.message : String(error);
    const help = `run \`leaf ${command} --help\``;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const flag = quoteArg(/'([^']*)'/.exec(message)?.[1] ?? "", "a flag");
      throw new UsageError(`Unknown option ${flag} for \`leaf ${command}\``, { hint: help });
    }
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
      const value = /^Unexpected argument '([\s\S]*)'\. This command/.exec(message)?.[1] ?? "";
      throw unexpectedArgument(command, args, value, Object.hasOwn(options, "connection-string"));
    }
    const flag = flagIn(message);
    if (/does not take an argument/.test(message)) {
      throw new UsageError(`${flag} does not take a value`, { hint: help });
    }
    if (/argument missing|argument is ambiguous/.test(message)) {
      throw new UsageError(`${flag} needs a value`, { hint: help });
    }
    throw new UsageError(
      `Invalid arguments for \`leaf ${command}\`: ${redact(message.split("\n")[0])}`,
      { hint: help },
    );
  }
}

/**
 * The error for an argument `leaf <command>` does not take: quoted when it is
 * harmless, else named by its position in `args` (it may be a connection
 * string or a key pasted without its flag).
 */
export function unexpectedArgument(
  command: string,
  args: string[],
  value: string,
  takesConnectionString = false,
): UsageError {
  // "Unexpected argument 1 (not shown: ...)" when it may be a secret.
  const what = quoteArg(value, String(args.indexOf(value) + 1 || "?"));
  const connection = /HostName\s*=|SharedAccessKey\s*=|DeviceId\s*=/i.test(value);
  return new UsageError(
    `Unexpected argument ${what} for \`leaf ${command}\``,
    {
      hint: connection && takesConnectionString
        ? "pass the connection string with --connection-string, or better in IOTHUB_DEVICE_CONNECTION_STRING or the config file (keeps it out of `ps`)"
        : `run \`leaf ${command} --help\``,
    },
  );
}

/** Bounds and wording of {@linkcode intFlag}. */
export interface IntFlagOptions {
  /** Smallest value allowed. @default 0 */
  min?: number;
  /** Largest value allowed. @default Number.MAX_SAFE_INTEGER */
  max?: number;
  /** What the value must be, for the message. @default "a whole number" */
  what?: string;
  /** What to do instead. @default none */
  hint?: string;
}

/** Parses an integer flag, or throws UsageError naming it (and the value, when harmless). */
export function intFlag(
  name: string,
  value: string | undefined,
  { min = 0, max = Number.MAX_SAFE_INTEGER, what = "a whole number", hint }: IntFlagOptions = {},
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw new UsageError(
      `--${name} ${quoteArg(value, "value")} is not ${what} from ${min} to ${max}`,
      hint ? { hint } : undefined,
    );
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
