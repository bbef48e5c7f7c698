/**
 * The dev gateway's admin API on 127.0.0.1, in IoT Hub's service REST shapes
 * (CLI.md "Dev gateway"), plus the live page. `?api-version=` is accepted and
 * ignored.
 *
 * | route | what |
 * | --- | --- |
 * | `GET /` | the live page |
 * | `GET /devices` | identities, connected, auth kind, counters |
 * | `GET /telemetry?since=N` | recent telemetry after sequence number N |
 * | `GET`/`PATCH /twins/{id}[/modules/{m}]` | the twin; PATCH `{"properties":{"desired":{...}}}` |
 * | `POST /twins/{id}[/modules/{m}]/methods` | `{"methodName","payload","responseTimeoutInSeconds"}` → `{"status","payload"}` |
 * | `POST /devices/{id}/messages/deviceBound` | `{"body","properties"}` or any other body as the raw message |
 * | `POST /devices/{id}[/modules/{m}]/disconnect` | closes that connection |
 * | `POST /outage` | `{"mode":"drop"\|"no-connack"\|null}` simulates a gateway outage |
 *
 * A web page the developer visits must not drive it (CSRF, DNS rebinding):
 * requests must name a loopback host (`Host: 127.0.0.1:N` or `localhost:N`),
 * a POST or PATCH from a browser must come from the admin's own origin, and
 * a body must be `Content-Type: application/json` (a C2D message may also be
 * `application/octet-stream`), which no page can send cross-origin without a
 * CORS preflight this server never grants. With curl:
 * `curl -H 'Content-Type: application/json' -d '{...}' http://127.0.0.1:N/...`.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Gateway, OutageMode } from "./broker.ts";
import type { ServiceResult } from "./cloud.ts";

/** Options of {@linkcode startAdmin}. */
export interface AdminOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  port: number;
  gateway: Gateway;
}

/** A running admin server. */
export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

const PAGE_URL = new URL("./page/index.html", import.meta.url);

/** Starts the admin API; a port in use is a {@linkcode ConfigError}. */
export async function startAdmin(options: AdminOptions): Promise<AdminServer> {
  const page = await Deno.readTextFile(PAGE_URL).catch(() => "<p>live page missing</p>");
  const handler = (request: Request) => route(request, options.gateway, page);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: "127.0.0.1", port: options.port, onListen() {} }, handler);
  } catch (cause) {
    throw new ConfigError(`Cannot listen on 127.0.0.1:${options.port} for the admin API`, {
      cause,
      hint: cause instanceof Deno.errors.AddrInUse
        ? "another process uses the port: pass another --admin-port, or 0"
        : "check --admin-port",
    });
  }
  return { port: server.addr.port, close: () => server.shutdown() };
}

function json(result: ServiceResult): Response {
  if (result.status === 204) return new Response(null, { status: 204 });
  return Response.json(result.body, { status: result.status });
}

function notFound(what: string): Response {
  return json({ status: 404, body: { errorCode: 404000, message: what } });
}

function readJson(bytes: Uint8Array): unknown | Response {
  const text = new TextDecoder().decode(bytes);
  try {
    return text.trim() === "" ? {} : JSON.parse(text);
  } catch {
    return json({ status: 400, body: { errorCode: 400001, message: "the body is not JSON" } });
  }
}

const LOOPBACK_NAMES = new Set(["127.0.0.1", "localhost", "[::1]"]);

function refuse(status: 403 | 415, message: string): Response {
  return json({ status, body: { errorCode: status * 1000 + 1, message } });
}

/**
 * Refuses what a web page could make the developer's browser send: a
 * foreign `Host` (DNS rebinding), a foreign `Origin`, or a body that is not
 * JSON (a form or `text/plain` needs no CORS preflight). Returns the body
 * bytes when the request may proceed.
 */
async function guard(request: Request, path: string): Promise<Uint8Array | Response> {
  const host = request.headers.get("host");
  const hostname = host?.replace(/:\d+$/, "").toLowerCase();
  if (hostname !== undefined && !LOOPBACK_NAMES.has(hostname)) {
    return refuse(403, `Host "${host}" is not this admin API (127.0.0.1 or localhost)`);
  }
  const method = request.method;
  if (method === "GET" || method === "HEAD") return new Uint8Array();
  const origin = request.headers.get("origin");
  if (origin !== null && origin !== `http://${host}`) {
    return refuse(
      403,
      `${method} from the web origin ${origin} is refused: only the live page, curl or scripts may change the gateway`,
    );
  }
  const bytes = new Uint8Array(await request.arrayBuffer());
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  const raw = type === "application/octet-stream" && path.endsWith("/messages/deviceBound");
  if ((type !== "" || bytes.length > 0) && type !== "application/json" && !raw) {
    return refuse(
      415,
      `${method} needs Content-Type: application/json${type ? `, not "${type}"` : ""}`,
    );
  }
  return bytes;
}

/** Routes one admin request. */
async function route(request: Request, gateway: Gateway, page: string): Promise<Response> {
  const url = new URL(request.url);
  const bytes = await guard(request, url.pathname);
  if (bytes instanceof Response) return bytes;
  let parts: string[];
  try {
    parts = url.pathname.split("/").filter((p) => p !== "").map(decodeURIComponent);
  } catch {
    return notFound("bad path encoding");
  }
  const method = request.method;
  const [head, id, ...rest] = parts;
  // `/twins/{d}/modules/{m}/...` and `/devices/{d}/modules/{m}/...` name a module identity.
  const moduleId = rest[0] === "modules" && rest[1] ? rest[1] : undefined;
  const identity = moduleId ? `${id}/${moduleId}` : id;
  const tail = (moduleId ? rest.slice(2) : rest).join("/");

  if (method === "GET" && parts.length === 0) {
    return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
  }
  if (method === "GET" && head === "devices" && id === undefined) {
    return Response.json(gateway.devices());
  }
  if (method === "GET" && head === "telemetry" && id === undefined) {
    const since = Number(url.searchParams.get("since") ?? 0);
    return Response.json(gateway.telemetrySince(Number.isFinite(since) ? since : 0));
  }
  if (method === "POST" && head === "outage" && id === undefined) {
    const body = readJson(bytes);
    if (body instanceof Response) return body;
    const mode = (body as { mode?: unknown }).mode ?? null;
    if (mode !== null && mode !== "drop" && mode !== "no-connack") {
      return json({
        status: 400,
        body: { errorCode: 400001, message: 'mode must be "drop", "no-connack" or null' },
      });
    }
    gateway.setOutage(mode as OutageMode | null);
    return Response.json({ mode });
  }
  if (head === "twins" && id !== undefined) {
    if (tail === "" && method === "GET") return json(gateway.cloud.getTwin(identity));
    if (tail === "" && method === "PATCH") {
      const body = readJson(bytes);
      return body instanceof Response ? body : json(gateway.cloud.patchDesired(identity, body));
    }
    if (tail === "methods" && method === "POST") {
      const body = readJson(bytes);
      return body instanceof Response
        ? body
        : json(await gateway.cloud.invokeMethod(identity, body));
    }
  }
  if (head === "devices" && id !== undefined && method === "POST") {
    if (!moduleId && tail === "messages/deviceBound") {
      const { body, properties } = c2dMessage(bytes);
      return json(gateway.cloud.sendC2D(id, body, properties));
    }
    if (tail === "disconnect") {
      const closed = gateway.disconnect(identity);
      return Response.json({ closed });
    }
  }
  return notFound(`no route for ${method} ${url.pathname}`);
}

/**
 * A C2D request body: `{"body": any, "properties": {...}}` is taken apart
 * (a non-string body is sent as JSON); anything else is the message itself.
 */
export function c2dMessage(
  raw: Uint8Array,
): { body: Uint8Array; properties: Record<string, string> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    return { body: raw, properties: {} };
  }
  if (
    parsed === null || typeof parsed !== "object" || Array.isArray(parsed) || !("body" in parsed)
  ) {
    return { body: raw, properties: {} };
  }
  const message = parsed as { body: unknown; properties?: unknown };
  const text = typeof message.body === "string" ? message.body : JSON.stringify(message.body);
  const properties: Record<string, string> = {};
  if (message.properties && typeof message.properties === "object") {
    for (const [k, v] of Object.entries(message.properties)) properties[k] = String(v);
  }
  return { body: new TextEncoder().encode(text), properties };
}
