/**
 * `leaf config check`: validate the config (file + environment + flags) and
 * print the effective config as YAML, every secret redacted.
 *
 * @module
 */
import { EXIT, UsageError } from "../errors.ts";
import { loadConfig } from "../config/load.ts";
import { SCHEMA } from "../config/schema.ts";
import { DEFAULT_PORT, readConnectionString } from "../config/target.ts";
import { render } from "../config/validate.ts";
import { redactConnectionString } from "../iothub/connection_string.ts";
import { mayHoldSecret, quoteArg } from "../log.ts";
import {
  configFlags,
  CONNECTION_HELP,
  CONNECTION_OPTIONS,
  parse,
  unexpectedArgument,
} from "./_args.ts";

const HELP = `Usage: leaf config check [options]

Validate the config and print the effective config (defaults, file,
environment and flags applied) with secrets redacted. Exit 0 when valid,
2 with the file, line and key when not.

Options:
  --json                    print JSON instead of YAML
${CONNECTION_HELP}`;

/** Runs `leaf config <subcommand>`. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parse("config", args, {
    ...CONNECTION_OPTIONS,
    json: { type: "boolean" },
  }, true);
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  const [sub, ...extra] = positionals;
  if (sub !== "check") {
    const what = sub === undefined
      ? "leaf config needs a subcommand"
      : mayHoldSecret(sub)
      ? `Unknown subcommand ${quoteArg(sub, `in argument ${args.indexOf(sub) + 1}`)}`
      : `Unknown subcommand "config ${sub}"`;
    throw new UsageError(what, { hint: "use `leaf config check`" });
  }
  if (extra.length > 0) throw unexpectedArgument("config check", args, extra[0], true);
  const { config, file } = await loadConfig(configFlags(values));
  const effective = render(SCHEMA, config) as Record<string, unknown>;
  if (config.connectionString !== undefined || config.connectionStringFile !== undefined) {
    const cs = await readConnectionString(config);
    effective.connectionString = redactConnectionString(cs);
    const gateway = effective.gateway as Record<string, unknown>;
    gateway.port ??= cs.gatewayPort ?? DEFAULT_PORT;
  } else {
    (effective.gateway as Record<string, unknown>).port ??= DEFAULT_PORT;
  }
  if (values.json) {
    console.log(JSON.stringify({ file: file ?? null, config: effective }, null, 2));
  } else {
    const { stringify } = await import("yaml");
    console.log(
      `# effective config${
        file ? ` from ${file}` : " (no config file: defaults, environment and flags)"
      }`,
    );
    console.log(stringify(effective).trimEnd());
  }
  return EXIT.ok;
}
