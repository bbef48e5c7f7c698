/**
 * Turns config into the one thing the transport needs: which gateway to
 * dial, which name to verify, which CA to pin and which identity to present.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { type ConnectionString, parseConnectionString } from "../iothub/connection_string.ts";
import type { Config } from "./schema.ts";

/** Where and as whom to connect. */
export interface GatewayTarget {
  /** The parsed connection string (secrets wrapped). */
  cs: ConnectionString;
  /** Name verified against the server certificate (GatewayHostName, else HostName). */
  host: string;
  /** Address actually dialled, when it differs from `host` (gateway.address). */
  address?: string;
  /** TCP port. */
  port: number;
  /** Pinned root CA file. */
  caFile: string;
  /** Device certificate and key files, for x509=true. */
  x509?: { cert: string; key: string };
}

/** Default MQTT over TLS port. */
export const DEFAULT_PORT = 8883;

const NO_CS_HINT =
  "set connectionString (or connectionStringFile) in the config, IOTHUB_DEVICE_CONNECTION_STRING, or --connection-string";

function expandCredentials(path: string, env: (name: string) => string | undefined): string {
  return path.replace(/\$\{?CREDENTIALS_DIRECTORY\}?/g, () => {
    const dir = env("CREDENTIALS_DIRECTORY");
    if (!dir) {
      throw new ConfigError(
        `connectionStringFile "${path}" uses $CREDENTIALS_DIRECTORY, which is not set`,
        {
          hint: "run under systemd with LoadCredential=, or give a plain path",
        },
      );
    }
    return dir;
  });
}

/** Reads the connection string from the config or its file. */
export async function readConnectionString(
  config: Config,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Promise<ConnectionString> {
  if (config.connectionString !== undefined) {
    return parseConnectionString(config.connectionString.reveal());
  }
  if (config.connectionStringFile !== undefined) {
    const path = expandCredentials(config.connectionStringFile, env);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      throw new ConfigError(
        `connectionStringFile "${path}" cannot be read (${(error as Error).name})`,
        {
          hint: "check the path and that leaf's user may read it (mode 0600, owned by leaf)",
          cause: error,
        },
      );
    }
    return parseConnectionString(text);
  }
  throw new ConfigError("No connection string", { hint: NO_CS_HINT });
}

/** Resolves the config into a {@linkcode GatewayTarget}; throws ConfigError (exit 2). */
export async function resolveTarget(
  config: Config,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Promise<GatewayTarget> {
  const cs = await readConnectionString(config, env);
  const caFile = config.gateway.caCert;
  if (caFile === undefined) {
    throw new ConfigError("No gateway root CA file", {
      hint:
        "set gateway.caCert in the config, IOTEDGE_ROOT_CA_CERT_PATH, or --ca to the gateway's azure-iot-test-only.root.ca.cert.pem (or your production root)",
    });
  }
  let x509: GatewayTarget["x509"];
  if (cs.x509) {
    if (!config.auth.x509) {
      throw new ConfigError(
        "The connection string says x509=true but no device certificate is configured",
        {
          hint: "set auth.x509.cert and auth.x509.key in the config, or pass --cert and --key",
        },
      );
    }
    x509 = config.auth.x509;
  } else if (config.auth.x509) {
    throw new ConfigError("auth.x509 is set but the connection string uses a shared access key", {
      hint:
        "add x509=true (and remove SharedAccessKey) to use the certificate, or remove auth.x509",
    });
  }
  return {
    cs,
    host: cs.gatewayHostName ?? cs.hostName,
    ...(config.gateway.address !== undefined ? { address: config.gateway.address } : {}),
    port: config.gateway.port ?? cs.gatewayPort ?? DEFAULT_PORT,
    caFile,
    ...(x509 ? { x509 } : {}),
  };
}
