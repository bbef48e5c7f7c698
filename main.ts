/**
 * leaf: the agent for a downstream device behind an Azure IoT Edge gateway.
 *
 * This entry stays thin: it picks the command, loads its module with a literal
 * dynamic import (so `deno compile` embeds it and heavy modules load only
 * when needed), and turns errors into one stderr line and an exit code from
 * the CLI contract.
 *
 * @module
 */
import { EXIT, LeafError, UsageError } from "./lib/errors.ts";
import { quoteArg, redact } from "./lib/log.ts";

/** A command module: runs with its own argv, resolves to an exit code. */
export interface CommandModule {
  main(args: string[]): Promise<number>;
}

const COMMANDS: Record<string, { about: string; load: () => Promise<CommandModule> }> = {
  run: {
    about: "run the agent: sensors → durable outbox → gateway",
    load: () => import("./lib/cli/run.ts"),
  },
  send: {
    about: "send N messages, wait for every acknowledgement, exit",
    load: () => import("./lib/cli/send.ts"),
  },
  check: {
    about: "diagnose the connection to the gateway step by step",
    load: () => import("./lib/cli/check.ts"),
  },
  certs: {
    about: "create an IoT Edge-style test certificate chain",
    load: () => import("./lib/cli/certs.ts"),
  },
  ca: {
    about: "install, remove or show the root CA in the OS trust store",
    load: () => import("./lib/cli/ca.ts"),
  },
  gateway: {
    about: "run the local dev gateway (edgeHub-compatible MQTT/TLS)",
    load: () => import("./lib/cli/gateway.ts"),
  },
  config: {
    about: "validate a config file and print it, secrets redacted",
    load: () => import("./lib/cli/config.ts"),
  },
  outbox: {
    about: "show the durable outbox: queued, oldest, dropped",
    load: () => import("./lib/cli/outbox.ts"),
  },
  sensors: {
    about: "list the sensors this board exposes, with a config snippet",
    load: () => import("./lib/cli/sensors.ts"),
  },
  install: {
    about: "install leaf as a hardened systemd service (binary, unit, config, credential)",
    load: () => import("./lib/cli/install.ts"),
  },
  uninstall: {
    about: "remove what leaf install laid down (config and outbox stay)",
    load: () => import("./lib/cli/install.ts").then((m) => ({ main: m.uninstall })),
  },
  version: {
    about: "print version, Deno version and target",
    load: () => import("./lib/cli/version.ts"),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.about}`);
  return [
    "Usage: leaf <command> [options]",
    "",
    "Commands:",
    ...lines,
    "",
    "Run `leaf <command> --help` for a command's options. Add --debug for stack traces.",
  ].join("\n");
}

/** Runs leaf with `argv` and resolves to the process exit code. */
export async function leaf(argv: string[]): Promise<number> {
  const debug = argv.includes("--debug");
  const args = argv.filter((a) => a !== "--debug");
  const [name, ...rest] = args;
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return EXIT.ok;
  }
  if (name === undefined) {
    // A usage error (exit 2): the usage goes to stderr, like every error.
    console.error(usage());
    return EXIT.usage;
  }
  if (name === "--version" || name === "-V") return leaf(["version"]);
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    return report(
      new UsageError(`Unknown command ${quoteArg(name, "in argument 1")}`, {
        hint: "run `leaf --help` for the list",
      }),
      debug,
    );
  }
  try {
    const mod = await command.load();
    return await mod.main(rest);
  } catch (error) {
    return report(error, debug);
  }
}

/**
 * Prints an error as one line and returns its exit code. Every line passes
 * through {@linkcode redact}, so a key or token in a message is masked.
 */
export function report(error: unknown, debug: boolean): number {
  const print = (text: string) => console.error(redact(text));
  if (error instanceof LeafError) {
    print(`leaf: ${error.oneLine()}`);
    if (debug) print(Deno.inspect(error));
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Deno.errors.NotCapable) {
    // Run from source with too few permissions: the user's fix, not a bug.
    print(
      `leaf: ${message.replace(/, run again with .*$/, "")}: run the compiled binary, ` +
        "or from source with `deno task leaf` (it grants every permission leaf needs)",
    );
    return EXIT.usage;
  }
  print(`leaf: internal error (a bug, please report it): ${message}`);
  if (debug) print(Deno.inspect(error));
  else print("leaf: run again with --debug for the stack trace");
  return EXIT.bug;
}

if (import.meta.main) {
  Deno.exit(await leaf(Deno.args));
}
