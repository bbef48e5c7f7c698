/**
 * `leaf install` and `leaf uninstall`: lay down (or remove) the binary, the
 * systemd unit, the sysusers snippet, a config skeleton, the CA and the
 * connection-string credential. Idempotent; `--dry-run` prints every action;
 * `--root DIR` installs into a tree (an SD-card image, the tests) and runs
 * nothing. The file list and modes are in lib/install/plan.ts.
 *
 * @module
 */
import { join } from "node:path";
import { ConfigError, EXIT, UsageError } from "../errors.ts";
import { Secret } from "../secret.ts";
import { parseConnectionString } from "../iothub/connection_string.ts";
import { PATHS } from "../install/assets.ts";
import { fileArch } from "../install/elf.ts";
import { caPath, installPlan, uninstallPlan } from "../install/plan.ts";
import { applyInstall, applyUninstall, type StepResult } from "../install/apply.ts";
import { parse } from "./_args.ts";

const INSTALL_HELP = `Usage: leaf install [options]

Install leaf as a systemd service: the binary to ${PATHS.binary} (the previous
one kept as leaf.prev), ${PATHS.unit}, ${PATHS.sysusers},
a commented ${PATHS.config} (never overwritten), the CA and the
connection string (${PATHS.credential}, mode 0600). Running it
again changes only what differs. It does not enable or start the service.

Options:
  --binary FILE             the leaf executable (default: this one, when compiled)
  --ca FILE                 gateway root CA, copied to /etc/leaf/ and set in a new config
  --config FILE             install this config instead of the skeleton (only if none exists)
  --connection-string CS    device connection string (or IOTHUB_DEVICE_CONNECTION_STRING);
                            written to the credential file, never printed
  --root DIR                install under DIR instead of / (image building); runs nothing
  --dry-run                 print what would change, change nothing
  -h, --help                this help`;

const UNINSTALL_HELP = `Usage: leaf uninstall [options]

Stop and disable the service and remove what leaf install laid down: the
binary (and leaf.prev), the unit and the sysusers snippet. /etc/leaf (config,
CA, credential) stays unless --purge; ${PATHS.stateDir} (the outbox) and the
leaf user always stay.

Options:
  --purge                   also remove /etc/leaf and everything in it
  --root DIR                remove under DIR instead of /; runs nothing
  --dry-run                 print what would be removed, remove nothing
  -h, --help                this help`;

const COMMON = {
  root: { type: "string" },
  "dry-run": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const VERB: Record<StepResult["outcome"], [string, string]> = {
  created: ["created", "would create"],
  updated: ["updated", "would update"],
  unchanged: ["unchanged", "unchanged"],
  kept: ["kept", "would keep"],
  removed: ["removed", "would remove"],
  absent: ["absent", "absent"],
};

function show(result: StepResult, dryRun: boolean): string {
  const verb = VERB[result.outcome][dryRun ? 1 : 0].padEnd(12);
  const mode = result.mode === undefined ? "" : ` (${result.mode.toString(8).padStart(4, "0")})`;
  return `  ${verb} ${result.path}${mode}${result.note ? `: ${result.note}` : ""}`;
}

/** True unless --root or --dry-run; then it requires root. */
function checkRoot(command: string, root: string | undefined, dryRun: boolean): void {
  if (root !== undefined || dryRun) return;
  if (Deno.uid() !== 0) {
    throw new UsageError(
      `leaf ${command} changes /usr/local/bin, /etc/systemd/system and /etc/leaf, so it needs root`,
      { hint: `run \`sudo leaf ${command} ...\`, or add --dry-run to see what it would do` },
    );
  }
}

/** The binary to install: --binary, else this executable when compiled. */
async function pickBinary(flag: string | undefined, root: string | undefined): Promise<string> {
  const binary = flag ?? (Deno.build.standalone ? Deno.execPath() : undefined);
  if (binary === undefined) {
    throw new UsageError("leaf install needs --binary FILE when leaf runs from source", {
      hint: "build it with `deno task compile`, then pass --binary dist/leaf-<target>",
    });
  }
  let arch: string | undefined;
  try {
    arch = await fileArch(binary);
  } catch (error) {
    throw new ConfigError(`--binary "${binary}" cannot be read (${(error as Error).name})`, {
      cause: error,
      hint: "check the path",
    });
  }
  if (arch === undefined) {
    throw new ConfigError(`--binary "${binary}" is not a 64-bit Linux executable`, {
      hint: "pass the file `deno task compile` wrote to dist/",
    });
  }
  if (arch !== Deno.build.arch) {
    const message =
      `--binary "${binary}" is built for ${arch}, but this machine is ${Deno.build.arch}`;
    if (root === undefined) {
      throw new ConfigError(message, {
        hint: `pass dist/leaf-${Deno.build.arch}-unknown-linux-gnu`,
      });
    }
    console.log(`note: ${message} (fine for an image built for an ${arch} device)`);
  }
  return binary;
}

function readSecret(flag: string | undefined): Secret | undefined {
  const text = flag ?? Deno.env.get("IOTHUB_DEVICE_CONNECTION_STRING");
  if (text === undefined || text.trim() === "") return undefined;
  parseConnectionString(text); // ConfigError (exit 2), never echoing the key
  return new Secret(`${text.trim()}\n`);
}

/** Runs a command on a live system, or says how to when it cannot. */
async function run(argv: string[], live: boolean, dryRun: boolean): Promise<boolean> {
  const shown = argv.join(" ");
  if (dryRun) {
    console.log(`  would run    ${shown}`);
    return true;
  }
  if (!live) {
    console.log(`  to do        ${shown}`);
    return true;
  }
  try {
    const out = await new Deno.Command(argv[0], { args: argv.slice(1), stdin: "null" }).output();
    if (out.success) {
      console.log(`  ran          ${shown}`);
      return true;
    }
    const err = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    console.error(`leaf: "${shown}" failed with exit code ${out.code}${err ? `: ${err}` : ""}`);
  } catch (error) {
    console.error(`leaf: cannot run "${shown}": ${(error as Error).message}`);
  }
  return false;
}

/** True on a machine booted with systemd (sd_booted): then commands run. */
async function systemdRunning(root: string | undefined): Promise<boolean> {
  if (root !== undefined) return false;
  try {
    return (await Deno.lstat("/run/systemd/system")).isDirectory;
  } catch {
    return false;
  }
}

async function userExists(root: string, name: string): Promise<boolean> {
  try {
    const passwd = await Deno.readTextFile(join(root, "/etc/passwd"));
    return passwd.split("\n").some((line) => line.startsWith(`${name}:`));
  } catch {
    return false;
  }
}

/** Runs `leaf install`. */
export async function main(args: string[]): Promise<number> {
  const { values } = parse("install", args, {
    ...COMMON,
    binary: { type: "string" },
    ca: { type: "string" },
    config: { type: "string" },
    "connection-string": { type: "string" },
  });
  if (values.help) {
    console.log(INSTALL_HELP);
    return EXIT.ok;
  }
  const dryRun = values["dry-run"] ?? false;
  checkRoot("install", values.root, dryRun);
  const root = values.root ?? "/";
  const binary = await pickBinary(values.binary, values.root);
  const connectionString = readSecret(values["connection-string"]);
  if (values.config !== undefined) {
    const { loadConfig } = await import("../config/load.ts");
    await loadConfig({ config: values.config }); // ConfigError names file, line and key
  }
  if (values.ca !== undefined) {
    await Deno.stat(values.ca).catch((error) => {
      throw new ConfigError(`--ca "${values.ca}" cannot be read (${error.name})`, { cause: error });
    });
  }

  const plan = installPlan({
    binary,
    ...(values.ca !== undefined ? { ca: values.ca } : {}),
    ...(values.config !== undefined ? { config: values.config } : {}),
    ...(connectionString ? { connectionString } : {}),
  });
  if (values.root !== undefined) console.log(`Installing under ${values.root}`);
  const results = await applyInstall(plan, { root, dryRun });
  for (const r of results) console.log(show(r, dryRun));
  const changed = results.filter((r) => r.outcome === "created" || r.outcome === "updated");
  const credential = connectionString !== undefined ||
    (await Deno.lstat(join(root, PATHS.credential)).then(() => true, () => false));
  if (!credential) {
    console.log(
      `  missing      ${PATHS.credential}: pass --connection-string (or IOTHUB_DEVICE_CONNECTION_STRING), or write it with mode 0600 before starting leaf`,
    );
  }

  const live = await systemdRunning(values.root);
  const touched = (path: string) => changed.some((r) => r.path === path);
  let ok = true;
  if (touched(PATHS.sysusers) || (live && !(await userExists(root, "leaf")))) {
    ok = await run(["systemd-sysusers", PATHS.sysusers], live, dryRun) && ok;
  }
  if (touched(PATHS.unit)) ok = await run(["systemctl", "daemon-reload"], live, dryRun) && ok;

  if (changed.length === 0) {
    console.log("leaf install: nothing to change, everything is already installed");
  } else {
    const n = changed.length;
    console.log(
      `leaf install: ${dryRun ? "would change" : "changed"} ${n} path${n === 1 ? "" : "s"}`,
    );
  }
  const ca = values.ca !== undefined ? ` (gateway.caCert: ${caPath(values.ca)})` : "";
  console.log(`Next steps:
  edit ${PATHS.config}${ca}; \`leaf sensors\` suggests sensors
  sudo CREDENTIALS_DIRECTORY=/etc/leaf leaf check --config ${PATHS.config}
  sudo systemctl enable --now leaf      # after an upgrade: sudo systemctl restart leaf
  journalctl -u leaf -o cat -f`);
  return ok ? EXIT.ok : EXIT.bug;
}

/** Runs `leaf uninstall`. */
export async function uninstall(args: string[]): Promise<number> {
  const { values } = parse("uninstall", args, { ...COMMON, purge: { type: "boolean" } });
  if (values.help) {
    console.log(UNINSTALL_HELP);
    return EXIT.ok;
  }
  const dryRun = values["dry-run"] ?? false;
  checkRoot("uninstall", values.root, dryRun);
  const root = values.root ?? "/";
  const live = await systemdRunning(values.root);
  const unitThere = await Deno.lstat(join(root, PATHS.unit)).then(() => true, () => false);
  // Under --root nothing runs; the enablement symlink is removed with the files.
  const commands = unitThere && values.root === undefined;
  let ok = true;
  if (commands) ok = await run(["systemctl", "disable", "--now", "leaf"], live, dryRun);
  if (values.root !== undefined) console.log(`Uninstalling under ${values.root}`);
  const results = await applyUninstall(uninstallPlan(values.purge ?? false), { root, dryRun });
  for (const r of results) console.log(show(r, dryRun));
  if (commands) ok = await run(["systemctl", "daemon-reload"], live, dryRun) && ok;
  const removed = results.filter((r) => r.outcome === "removed").length;
  console.log(
    removed === 0
      ? "leaf uninstall: nothing to remove"
      : `leaf uninstall: ${dryRun ? "would remove" : "removed"} ${removed} path${
        removed === 1 ? "" : "s"
      }`,
  );
  const kept = [
    ...(values.purge ? [] : [`${PATHS.configDir} (config, CA, credential; --purge removes it)`]),
    `${PATHS.stateDir} (the outbox: unsent telemetry)`,
    "the leaf user",
  ];
  if (await Deno.lstat(join(root, PATHS.dropIns)).then(() => true, () => false)) {
    kept.push(`${PATHS.dropIns} (your drop-ins)`);
  }
  console.log(`Kept: ${kept.join(", ")}`);
  return ok ? EXIT.ok : EXIT.bug;
}
