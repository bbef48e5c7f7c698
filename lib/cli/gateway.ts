/**
 * `leaf gateway`: runs the dev gateway until SIGINT or SIGTERM.
 *
 * @module
 */
import { EXIT, UsageError } from "../errors.ts";
import { GATEWAY_DEFAULTS, startGateway } from "../gateway/broker.ts";
import { loadDevicesFile } from "../gateway/devices_file.ts";
import { createRegistry, type DeviceEntry, parseDeviceSpec } from "../gateway/registry.ts";
import { intFlag, type OptionSpecs, parse } from "./_args.ts";

const HELP = `Usage: leaf gateway --certs DIR [options]

The dev gateway: edgeHub-compatible MQTT over TLS for downstream devices, with
SAS and X.509 device auth, a telemetry log, twins, methods and C2D.

Options:
  --certs DIR         folder from \`leaf certs create\` (required)
  --hostname HOST     the gateway's name; picks the server certificate (default ${GATEWAY_DEFAULTS.hostname})
  --bind ADDR         address to listen on (default ${GATEWAY_DEFAULTS.bind})
  --port N            MQTT/TLS port, 0 = any free port (default ${GATEWAY_DEFAULTS.port})
  --device SPEC       a device: ID:KEY, ID:x509:THUMBPRINT or ID:x509-ca (repeatable)
  --devices FILE      YAML list of devices: [{id, key?, secondaryKey?, thumbprint?, x509Ca?, modules?}];
                      unlike --device ID:KEY, a file (mode 0600) keeps keys out of \`ps\`
  --admin-port N      admin API and live page on 127.0.0.1:N, 0 = any free port (default off)
  --out FILE          append each accepted telemetry message as a JSON line
  --state DIR         keep twins in DIR across restarts
  --hub NAME          IoT Hub name SAS tokens may name (default: any hub name is accepted)
  --help              show this help

Runs until Ctrl-C or SIGTERM, then exits 0.`;

const OPTIONS = {
  certs: { type: "string" },
  hostname: { type: "string" },
  bind: { type: "string" },
  port: { type: "string" },
  device: { type: "string", multiple: true },
  devices: { type: "string" },
  "admin-port": { type: "string" },
  out: { type: "string" },
  state: { type: "string" },
  hub: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

function port(value: string | undefined, flag: string): number | undefined {
  return intFlag(flag, value, {
    min: 0,
    max: 65535,
    what: "a port number",
    hint: "use 0-65535 (0 = any free port)",
  });
}

function nonEmpty(value: string | undefined, flag: string): string | undefined {
  if (value !== undefined && value.trim() === "") {
    throw new UsageError(`${flag} is empty`, { hint: "run `leaf gateway --help`" });
  }
  return value;
}

/** Runs `leaf gateway`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const flags = parse("gateway", args, OPTIONS).values;
  if (flags.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  const certsDir = nonEmpty(flags.certs, "--certs");
  if (!certsDir) {
    throw new UsageError("--certs DIR is required", {
      hint: "create one with `leaf certs create --hostname localhost --out ./certs`",
    });
  }
  const mqttPort = port(flags.port, "port");
  const adminPort = port(flags["admin-port"], "admin-port");
  const entries: DeviceEntry[] = (flags.device ?? []).map(parseDeviceSpec);
  const devicesFile = nonEmpty(flags.devices, "--devices");
  if (devicesFile) entries.push(...await loadDevicesFile(devicesFile));
  const registry = createRegistry(entries);
  if (registry.size === 0) {
    throw new UsageError("No devices: the gateway would refuse every connection", {
      hint:
        "add --device ID:KEY (a base64 key, e.g. from `openssl rand -base64 32`) or --devices FILE",
    });
  }

  const gateway = await startGateway({
    certsDir,
    registry,
    hostname: nonEmpty(flags.hostname, "--hostname"),
    bind: nonEmpty(flags.bind, "--bind"),
    port: mqttPort,
    adminPort,
    outFile: nonEmpty(flags.out, "--out"),
    stateDir: nonEmpty(flags.state, "--state"),
    hubName: nonEmpty(flags.hub, "--hub"),
  });
  const admin = gateway.adminPort === undefined
    ? ""
    : ` (admin http://127.0.0.1:${gateway.adminPort})`;
  console.log(`leaf gateway listening on mqtts://${gateway.host}:${gateway.port}${admin}`);

  // Listeners stay installed until the gateway has closed: a second signal
  // (Ctrl-C reaches the whole process group, then a supervisor's SIGTERM)
  // must not kill it half-way through closing.
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  let stop = () => {};
  const stopped = new Promise<void>((resolve) => stop = resolve);
  for (const signal of signals) Deno.addSignalListener(signal, stop);
  await stopped;
  await gateway.close();
  for (const signal of signals) Deno.removeSignalListener(signal, stop);
  console.log("leaf gateway stopped");
  return EXIT.ok;
}
