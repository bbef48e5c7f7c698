/**
 * `leaf certs`: create an IoT Edge-style test chain and device certificates.
 *
 * @example
 * ```sh
 * leaf certs create --hostname gw.local --out ./certs
 * leaf certs device --id sensor-01 --out ./certs
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { relative } from "node:path";
import { UsageError } from "../errors.ts";
import { createDeviceCertificate, createEdgeTestChain } from "../trust/testchain.ts";

const USAGE = `Usage:
  leaf certs create --hostname HOST --out DIR [--days N] [--name NAME] [--force]
  leaf certs device --id ID --out DIR [--self-signed] [--days N]

create  writes IoT Edge's test chain (root CA → intermediate → edge CA → gateway
        server certificate for HOST, SAN = HOST and edgeHub) under DIR/certs and
        DIR/private, with the file names of IoT Edge's certGen.sh
device  writes a device certificate (CN = ID, clientAuth) signed by the test
        intermediate in DIR, or self-signed for thumbprint authentication

Options:
  --hostname HOST  the gateway's hostname (config.toml \`hostname\`, GatewayHostName=)
  --out DIR        folder for certs/ and private/
  --days N         validity of every certificate in days (default 30, as certGen.sh)
  --name NAME      edge CA name: iot-edge-device-ca-NAME (default HOST)
  --force          replace an existing root CA in DIR
  --id ID          device id (the certificate's CN)
  --self-signed    self-signed device certificate (register its thumbprints)
  -h, --help       show this help`;

type Flags = Record<string, { type: "string" | "boolean"; short?: string }>;

const CREATE_FLAGS: Flags = {
  hostname: { type: "string" },
  out: { type: "string" },
  days: { type: "string" },
  name: { type: "string" },
  force: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

const DEVICE_FLAGS: Flags = {
  id: { type: "string" },
  out: { type: "string" },
  days: { type: "string" },
  "self-signed": { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

/** Runs `leaf certs` with the arguments after `certs`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "--help" || sub === "-h" || sub === "help") {
    console.log(USAGE);
    return 0;
  }
  if (sub === "create") return await create(rest);
  if (sub === "device") return await device(rest);
  throw new UsageError(
    sub === undefined ? "certs: missing subcommand" : `certs: unknown subcommand "${sub}"`,
    { hint: "use `leaf certs create` or `leaf certs device` (see `leaf certs --help`)" },
  );
}

async function create(args: string[]): Promise<number> {
  const flags = parse(args, CREATE_FLAGS, "create");
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const hostname = required(flags, "hostname", "create", "the gateway's hostname, e.g. gw.local");
  const outDir = required(flags, "out", "create", "a folder, e.g. ./certs");
  const chain = await createEdgeTestChain({
    hostname,
    outDir,
    days: days(flags.days),
    name: optional(flags, "name"),
    force: flags.force === true,
  });
  console.log(
    `Wrote an IoT Edge test chain for "${hostname}" to ${outDir} ` +
      `(valid until ${chain.notAfter.toISOString()}):`,
  );
  for (const file of chain.files) console.log(`  ${relative(outDir, file)}`);
  console.log(
    `Devices must pin ${chain.pinFile} (gateway.caCert or --ca); ` +
      `serve with \`leaf gateway --certs ${outDir} --hostname ${hostname}\`.`,
  );
  return 0;
}

async function device(args: string[]): Promise<number> {
  const flags = parse(args, DEVICE_FLAGS, "device");
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const deviceId = required(flags, "id", "device", "the device id, e.g. sensor-01");
  const outDir = required(flags, "out", "device", "the folder of `leaf certs create`");
  const selfSigned = flags["self-signed"] === true;
  const cert = await createDeviceCertificate({
    outDir,
    deviceId,
    selfSigned,
    days: days(flags.days),
  });
  const kind = selfSigned ? "self-signed" : "CA-signed (test intermediate)";
  console.log(`Wrote a ${kind} certificate for device "${deviceId}" to ${outDir}:`);
  for (const file of cert.files) console.log(`  ${relative(outDir, file)}`);
  console.log(`SHA-1 thumbprint:   ${cert.sha1Thumbprint}`);
  console.log(`SHA-256 thumbprint: ${cert.sha256Thumbprint}`);
  return 0;
}

type Values = Record<string, string | boolean | undefined>;

/** `parseArgs` in strict mode, its errors turned into one-line UsageErrors. */
function parse(args: string[], options: Flags, sub: string): Values {
  try {
    const { values, positionals } = parseArgs({
      args,
      options,
      strict: true,
      allowPositionals: true,
    });
    if (positionals.length > 0) {
      throw new UsageError(`certs ${sub}: unexpected argument "${positionals[0]}"`, {
        hint: "see `leaf certs --help`",
      });
    }
    return values as Values;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const code = (error as { code?: string }).code;
    const message = error instanceof Error ? error.message : String(error);
    const flag = /'([^']+)'/.exec(message)?.[1] ?? "";
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      throw new UsageError(`certs ${sub}: unknown flag "${flag}"`, {
        cause: error,
        hint: "see `leaf certs --help`",
      });
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
      throw new UsageError(`certs ${sub}: flag "${flag.split(" ")[0]}" needs a value`, {
        cause: error,
        hint: "see `leaf certs --help`",
      });
    }
    throw error;
  }
}

function required(flags: Values, name: string, sub: string, example: string): string {
  const value = optional(flags, name);
  if (value === undefined) {
    throw new UsageError(`certs ${sub}: missing --${name}`, {
      hint: `pass --${name} with ${example}`,
    });
  }
  return value;
}

function optional(flags: Values, name: string): string | undefined {
  const value = flags[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function days(value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= 36500)) {
    throw new UsageError(`certs: --days "${value}" is not a whole number from 1 to 36500`, {
      hint: "pass e.g. --days 30",
    });
  }
  return n;
}
