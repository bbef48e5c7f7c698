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
import { relative } from "node:path";
import { UsageError } from "../errors.ts";
import { quoteArg } from "../log.ts";
import { createDeviceCertificate, createEdgeTestChain } from "../trust/testchain.ts";
import { intFlag, type OptionSpecs, parse } from "./_args.ts";

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

const CREATE_FLAGS = {
  hostname: { type: "string" },
  out: { type: "string" },
  days: { type: "string" },
  name: { type: "string" },
  force: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

const DEVICE_FLAGS = {
  id: { type: "string" },
  out: { type: "string" },
  days: { type: "string" },
  "self-signed": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

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
    sub === undefined
      ? "certs: missing subcommand"
      : `certs: unknown subcommand ${quoteArg(sub, "in argument 1")}`,
    { hint: "use `leaf certs create` or `leaf certs device` (see `leaf certs --help`)" },
  );
}

async function create(args: string[]): Promise<number> {
  const flags = flagsOf("create", args, CREATE_FLAGS);
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
  const flags = flagsOf("device", args, DEVICE_FLAGS);
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

/** Flags of `leaf certs <sub>`, parsed strictly by `parse()`. */
function flagsOf(sub: string, args: string[], options: OptionSpecs): Values {
  return parse(`certs ${sub}`, args, options).values as Values;
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
  return intFlag("days", typeof value === "string" ? value : undefined, {
    min: 1,
    max: 36500,
    hint: "pass e.g. --days 30",
  });
}
