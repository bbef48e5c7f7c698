/**
 * Shared fixtures of the dev gateway tests: one IoT Edge test chain per test
 * module, gateways on port 0, SAS tokens, and a raw mqtt.js device client
 * that pins the test root.
 *
 * @module
 */
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { type Gateway, type GatewayOptions, startGateway } from "../../lib/gateway/broker.ts";
import { createRegistry, type DeviceEntry, parseDeviceSpec } from "../../lib/gateway/registry.ts";
import { createSasToken } from "../../lib/iothub/sas.ts";
import { createEdgeTestChain } from "../../lib/trust/testchain.ts";

/** Device keys used throughout (base64 of 32 fixed bytes). */
export const KEY_A = btoa("leaf-test-device-key-a-000000000");
export const KEY_B = btoa("leaf-test-device-key-b-000000000");
export const HUB = "test-hub.azure-devices.net";

let chain: Promise<string> | undefined;

/** A test chain for `localhost`, made once per test module and removed at exit. */
export function testChainDir(): Promise<string> {
  chain ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "leaf-gwchain-" });
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch { /* already gone */ }
    });
    await createEdgeTestChain({ hostname: "localhost", outDir: dir });
    return dir;
  })();
  return chain;
}

/** A gateway on a free port and the lines it logged. */
export interface TestGateway {
  gateway: Gateway;
  lines: string[];
}

/** Starts a gateway for `devices` (default: `dev-1` with KEY_A) that logs into an array. */
export async function startTestGateway(
  options: Partial<GatewayOptions> & { devices?: (string | DeviceEntry)[] } = {},
): Promise<TestGateway & AsyncDisposable> {
  const lines: string[] = [];
  const { devices = [`dev-1:${KEY_A}`], ...rest } = options;
  const gateway = await startGateway({
    certsDir: await testChainDir(),
    registry: createRegistry(devices.map((d) => typeof d === "string" ? parseDeviceSpec(d) : d)),
    port: 0,
    log: (line) => lines.push(line),
    ...rest,
  });
  return { gateway, lines, [Symbol.asyncDispose]: () => gateway.close() };
}

/** A SAS token for `audience` signed with `key`, valid for `seconds` (negative = expired). */
export async function sasToken(audience: string, key: string, seconds = 3600): Promise<string> {
  const expiry = Math.floor(Date.now() / 1000) + seconds;
  return (await createSasToken({ resourceUri: audience, key, expiry })).reveal();
}

/** The username the official SDK sends. */
export function usernameFor(clientId: string, hub = HUB): string {
  return `${hub}/${clientId}/?api-version=2021-04-12&DeviceClientType=leaf-test`;
}

/** Options of {@linkcode connectDevice}. */
export interface DeviceOptions extends IClientOptions {
  gateway: Gateway;
}

/** An MQTT error with the CONNACK code mqtt.js attaches. */
export type ConnectError = Error & { code?: number | string };

/**
 * Connects a raw mqtt.js client over TLS, pinning the test root and checking
 * the server name `localhost`. Resolves on CONNACK 0; rejects with the error
 * (whose `code` is the CONNACK code) after closing the client.
 */
export function connectDevice(options: DeviceOptions): Promise<MqttClient & AsyncDisposable> {
  const { gateway, ...rest } = options;
  const client = mqtt.connect(`mqtts://localhost:${gateway.port}`, {
    ca: gateway.rootPem,
    servername: "localhost",
    rejectUnauthorized: true,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...rest,
  }) as MqttClient & AsyncDisposable;
  client[Symbol.asyncDispose] = async () => {
    await client.endAsync(true);
  };
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      client.off("connect", ok);
      client.off("close", closed);
      client.end(true, () => reject(error));
    };
    const ok = () => {
      client.off("error", fail);
      client.off("close", closed);
      resolve(client);
    };
    const closed = () => fail(new Error("connection closed without a CONNACK"));
    client.once("connect", ok);
    client.once("error", fail);
    client.once("close", closed);
  });
}

/** Connects `clientId` with a fresh SAS token signed with `key` (default KEY_A). */
export async function connectWithKey(
  gateway: Gateway,
  clientId = "dev-1",
  key = KEY_A,
  extra: IClientOptions = {},
): Promise<MqttClient & AsyncDisposable> {
  return connectDevice({
    gateway,
    clientId,
    username: usernameFor(clientId),
    password: await sasToken(`${HUB}/devices/${clientId.replace("/", "/modules/")}`, key),
    ...extra,
  });
}

/** Resolves when the client's connection closes. */
export function closed(client: MqttClient): Promise<void> {
  if (client.disconnected || !client.connected && client.disconnecting) return Promise.resolve();
  return new Promise((resolve) => client.once("close", () => resolve()));
}

/** The CONNACK code of a refused connect (or the error text when there was none). */
export async function refusal(connecting: Promise<MqttClient>): Promise<number | string> {
  try {
    const client = await connecting;
    await client.endAsync(true);
    return "accepted";
  } catch (error) {
    const code = (error as ConnectError).code;
    return typeof code === "number" ? code : String((error as Error).message);
  }
}

/** A message a device received. */
export interface Received {
  topic: string;
  payload: string;
}

/** Resolves with the next message whose topic starts with `prefix`. */
export function nextMessage(client: MqttClient, prefix = ""): Promise<Received> {
  return new Promise((resolve) => {
    const onMessage = (topic: string, payload: Uint8Array) => {
      if (!topic.startsWith(prefix)) return;
      client.off("message", onMessage);
      resolve({ topic, payload: new TextDecoder().decode(payload) });
    };
    client.on("message", onMessage);
  });
}

/**
 * Calls the admin API and returns status and parsed JSON body (null when
 * empty). A body is sent as `Content-Type: application/json`, as the admin
 * API requires (a string body is sent as it is, with that type).
 */
export async function admin(
  gateway: Gateway,
  method: string,
  path: string,
  body?: unknown,
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; body: any }> {
  const response = await fetch(`http://127.0.0.1:${gateway.adminPort}${path}`, {
    method,
    ...(body === undefined ? {} : {
      body: typeof body === "string" ? body : JSON.stringify(body),
      headers: { "content-type": "application/json" },
    }),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? null : JSON.parse(text) };
}
