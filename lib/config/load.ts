/**
 * Loads the effective config: defaults < config file < environment < flags.
 *
 * The file is YAML (`npm:yaml`, imported only when a file exists, to keep
 * the send path light). Every error names the file, line and key path.
 *
 * @module
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { ConfigError } from "../errors.ts";
import { Secret } from "../secret.ts";
import { type Config, SCHEMA } from "./schema.ts";
import { type KeyPath, validate } from "./validate.ts";

/** Values that override the file, from command-line flags. */
export interface ConfigFlags {
  /** `--config FILE` */
  config?: string;
  /** `--connection-string CS` */
  connectionString?: string;
  /** `--ca FILE` */
  ca?: string;
  /** `--port N` */
  port?: number;
  /** `--cert FILE` (X.509) */
  cert?: string;
  /** `--key FILE` (X.509) */
  key?: string;
}

/** The config plus where it came from. */
export interface LoadedConfig {
  config: Config;
  /** The file read, or undefined when only defaults/env/flags apply. */
  file?: string;
}

/**
 * Makes relative paths in the file relative to the file's folder (under
 * systemd the working directory is `/`). Flags and environment stay relative
 * to the working directory, as on any command line.
 */
function resolvePaths(config: Config, base: string): void {
  const abs = (p: string) => (isAbsolute(p) || p.startsWith("$") ? p : resolve(base, p));
  if (config.gateway.caCert !== undefined) config.gateway.caCert = abs(config.gateway.caCert);
  if (config.connectionStringFile !== undefined) {
    config.connectionStringFile = abs(config.connectionStringFile);
  }
  config.stateDir = abs(config.stateDir);
  config.sysfsRoot = abs(config.sysfsRoot);
  config.procfsRoot = abs(config.procfsRoot);
  for (const sensor of config.sensors) {
    if (sensor.type === "file" && typeof sensor.path === "string") sensor.path = abs(sensor.path);
  }
  if (config.auth.x509) {
    config.auth.x509 = { cert: abs(config.auth.x509.cert), key: abs(config.auth.x509.key) };
  }
}

/** Where leaf looks for a config file when none is named. */
export const DEFAULT_CONFIG_PATHS = ["/etc/leaf/leaf.yaml", "./leaf.yaml"];

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Picks the config file: flag > $LEAF_CONFIG > /etc/leaf/leaf.yaml > ./leaf.yaml. */
export async function findConfigFile(
  flag: string | undefined,
  env: (name: string) => string | undefined,
): Promise<string | undefined> {
  const named = flag ?? env("LEAF_CONFIG");
  if (named !== undefined && named !== "") return named;
  for (const candidate of DEFAULT_CONFIG_PATHS) {
    if (await exists(candidate)) return candidate;
  }
  return undefined;
}

/** Parses YAML text and validates it; `file` names the source in errors. */
export async function parseConfigText(text: string, file: string): Promise<Config> {
  const { parseDocument, LineCounter, isMap, isScalar, isSeq } = await import("yaml");
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const pos = lines.linePos(e.pos[0]);
    const reason = e.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    throw new ConfigError(`${file}:${pos.line}: YAML syntax error: ${reason}`, {
      hint: "fix the indentation or quoting on that line",
    });
  }
  const raw = doc.toJS({ maxAliasCount: 100 });
  const lineOf = (node: unknown): string | undefined => {
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    return range ? `${file}:${lines.linePos(range[0]).line}` : undefined;
  };
  // Points at a mapping entry's key (its value may start on a later line);
  // a missing key points at its parent mapping.
  const locate = (path: KeyPath): string => {
    for (let n = path.length; n > 0; n--) {
      const parent = doc.getIn(path.slice(0, n - 1), true);
      const last = path[n - 1];
      let where: string | undefined;
      if (isMap(parent)) {
        const pair = parent.items.find((p) =>
          String(isScalar(p.key) ? p.key.value : p.key) === String(last)
        );
        where = lineOf(pair?.key);
      } else if (isSeq(parent) && typeof last === "number") {
        where = lineOf(parent.items[last]);
      }
      if (where) return where;
    }
    return lineOf(doc.contents) ?? file;
  };
  return validate(SCHEMA, raw ?? {}, locate) as unknown as Config;
}

/**
 * Loads config from the file (if any), then applies the environment
 * (`IOTHUB_DEVICE_CONNECTION_STRING`, `IOTEDGE_ROOT_CA_CERT_PATH`) and flags.
 */
export async function loadConfig(
  flags: ConfigFlags = {},
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Promise<LoadedConfig> {
  const file = await findConfigFile(flags.config, env);
  let config: Config;
  if (file === undefined) {
    config = validate(SCHEMA, {}) as unknown as Config;
  } else {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (error) {
      const reason = error instanceof Deno.errors.NotFound
        ? "does not exist"
        : error instanceof Deno.errors.PermissionDenied
        ? "is not readable (permission denied)"
        : `cannot be read (${(error as Error).message})`;
      throw new ConfigError(`Config file "${file}" ${reason}`, {
        hint: "pass --config FILE or set LEAF_CONFIG to an existing file",
        cause: error,
      });
    }
    config = await parseConfigText(text, file);
    resolvePaths(config, dirname(file));
  }
  if (config.connectionString !== undefined && config.connectionStringFile !== undefined) {
    throw new ConfigError(
      `${file}: connectionString and connectionStringFile are both set`,
      { hint: "keep one of them" },
    );
  }

  const envCs = env("IOTHUB_DEVICE_CONNECTION_STRING");
  const cs = flags.connectionString ?? (envCs !== undefined && envCs !== "" ? envCs : undefined);
  if (cs !== undefined) {
    config.connectionString = new Secret(cs);
    delete config.connectionStringFile;
  }
  const envCa = env("IOTEDGE_ROOT_CA_CERT_PATH");
  const ca = flags.ca ?? (envCa !== undefined && envCa !== "" ? envCa : undefined);
  if (ca !== undefined) config.gateway.caCert = ca;
  if (flags.port !== undefined) config.gateway.port = flags.port;
  if (flags.cert !== undefined || flags.key !== undefined) {
    if (flags.cert === undefined || flags.key === undefined) {
      throw new ConfigError(`--${flags.cert === undefined ? "cert" : "key"} is missing`, {
        hint: "give both --cert and --key for X.509 authentication",
      });
    }
    config.auth.x509 = { cert: flags.cert, key: flags.key };
  }
  if (config.reconnect.minDelay > config.reconnect.maxDelay) {
    throw new ConfigError(
      `${file ?? "config"}: reconnect.minDelay is longer than reconnect.maxDelay`,
      { hint: "make minDelay the smaller one" },
    );
  }
  return {
    config,
    ...(file !== undefined ? { file } : {}),
  };
}
