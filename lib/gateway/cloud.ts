/**
 * The cloud side of the dev gateway: twins, direct methods and
 * cloud-to-device messages, between the admin API and connected devices.
 * Answers use IoT Hub's status codes and error shapes.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { encodePropertyBag } from "../iothub/properties.ts";
import {
  c2dTopic,
  methodRequestTopic,
  twinDesiredTopic,
  twinResponseTopic,
} from "../iothub/topics.ts";
import type { Registry } from "./registry.ts";
import type { DeviceSession } from "./session.ts";
import { parseBody } from "./telemetry_log.ts";
import type { TwinStore } from "./twin_store.ts";

/** An HTTP status and JSON body for the admin API. */
export interface ServiceResult {
  status: number;
  body: unknown;
}

/** IoT Hub's limits for C2D (gateway-anchors.md §6). */
export const C2D_MAX_BYTES = 64 * 1024;
export const C2D_MAX_PENDING = 50;
/** Direct-method timeout bounds, seconds (IoT Hub: default 30, at most 300). */
const METHOD_TIMEOUT = { default: 30, min: 1, max: 300 };

interface C2DMessage {
  messageId: string;
  topic: string;
  payload: Uint8Array;
  attempts: number;
}

interface PendingCall {
  session: DeviceSession;
  timer: ReturnType<typeof setTimeout>;
  resolve: (result: ServiceResult) => void;
}

/** Options of {@linkcode CloudSide}. */
export interface CloudSideOptions {
  registry: Registry;
  twins: TwinStore;
  /** The connected session of an identity id (`d` or `d/m`). */
  session: (id: string) => DeviceSession | undefined;
  log: (line: string) => void;
}

function error(status: number, errorCode: number, message: string): ServiceResult {
  return { status, body: { errorCode, message } };
}

/** Twins, methods and C2D queues of the dev gateway. */
export class CloudSide {
  #o: CloudSideOptions;
  #queues = new Map<string, { messages: C2DMessage[]; busy: boolean }>();
  #calls = new Map<string, PendingCall>();
  #nextRid = 1;

  constructor(options: CloudSideOptions) {
    this.#o = options;
  }

  /** Whether `id` (`d` or `d/m`) is a registered identity. */
  known(id: string): boolean {
    const [deviceId, moduleId, extra] = id.split("/");
    const device = this.#o.registry.get(deviceId);
    if (!device || extra !== undefined) return false;
    return moduleId === undefined || device.modules.has(moduleId);
  }

  #notFound(id: string): ServiceResult {
    return error(404, 404001, `device "${id}" is not in the gateway's device list`);
  }

  /** Answers `$iothub/twin/GET` (only to a device subscribed to `$iothub/twin/res/#`). */
  twinGet(session: DeviceSession, rid: string): void {
    this.#reply(
      session,
      twinResponseTopic(200, rid),
      JSON.stringify(this.#o.twins.deviceView(session.id)),
    );
  }

  /** Applies a reported patch and answers 204 with the new version, or 400. */
  twinReported(session: DeviceSession, rid: string, payload: Uint8Array): void {
    const patch = parseBody(payload);
    const result = this.#o.twins.patchReported(session.id, patch);
    if (result.ok) {
      this.#reply(session, twinResponseTopic(204, rid, result.version), "");
    } else {
      this.#o.log(`twin ${session.id}: reported patch refused: ${result.message} (400)`);
      this.#reply(
        session,
        twinResponseTopic(400, rid),
        JSON.stringify({ message: result.message }),
      );
    }
  }

  #reply(session: DeviceSession, topic: string, body: string): void {
    const qos = session.subscriptionQos("twin-response");
    if (qos === undefined) {
      this.#o.log(`twin ${session.id}: not subscribed to $iothub/twin/res/#, response not sent`);
      return;
    }
    session.send(topic, body, qos).catch(() => {/* disconnected: the device asks again */});
  }

  /** `GET /twins/{id}`. */
  getTwin(id: string): ServiceResult {
    if (!this.known(id)) return this.#notFound(id);
    return { status: 200, body: this.#o.twins.serviceView(id) };
  }

  /** `PATCH /twins/{id}` with `{"properties":{"desired":{...}}}`; pushes the patch to the device. */
  patchDesired(id: string, request: unknown): ServiceResult {
    if (!this.known(id)) return this.#notFound(id);
    const desired = (request as { properties?: { desired?: unknown } } | null)?.properties?.desired;
    if (desired === undefined) {
      return error(400, 400004, 'expected {"properties":{"desired":{...}}}');
    }
    const result = this.#o.twins.patchDesired(id, desired);
    if (!result.ok) return error(400, 400004, result.message);
    const session = this.#o.session(id);
    const qos = session?.subscriptionQos("twin-desired");
    if (session && qos !== undefined) {
      const body = JSON.stringify({ ...(desired as object), $version: result.version });
      session.send(twinDesiredTopic(result.version), body, qos).catch(() => {});
    }
    return { status: 200, body: this.#o.twins.serviceView(id) };
  }

  /** `POST /twins/{id}/methods`: calls the method and waits for the device's answer. */
  invokeMethod(id: string, request: unknown): Promise<ServiceResult> {
    if (!this.known(id)) return Promise.resolve(this.#notFound(id));
    const r = (request ?? {}) as Record<string, unknown>;
    const name = r.methodName;
    if (typeof name !== "string" || !/^[^/+#\s]{1,128}$/.test(name)) {
      return Promise.resolve(
        error(400, 400027, "methodName must be a name without / + # or spaces"),
      );
    }
    const timeoutS = r.responseTimeoutInSeconds ?? METHOD_TIMEOUT.default;
    if (
      typeof timeoutS !== "number" ||
      !(timeoutS >= METHOD_TIMEOUT.min && timeoutS <= METHOD_TIMEOUT.max)
    ) {
      return Promise.resolve(error(400, 400027, "responseTimeoutInSeconds must be 1-300"));
    }
    const session = this.#o.session(id);
    const qos = session?.subscriptionQos("methods");
    if (!session || qos === undefined) {
      return Promise.resolve(error(404, 404103, "device is not online"));
    }
    const rid = (this.#nextRid++).toString(16);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#calls.delete(rid);
        resolve(
          error(504, 504101, `timed out after ${timeoutS} s waiting for the device's response`),
        );
      }, timeoutS * 1000);
      this.#calls.set(rid, { session, timer, resolve });
      const payload = JSON.stringify(r.payload ?? null);
      session.send(methodRequestTopic(name, rid), payload, qos).catch(() => {});
    });
  }

  /** A device's `$iothub/methods/res/{status}/?$rid=` answer. */
  methodResponse(session: DeviceSession, status: number, rid: string, payload: Uint8Array): void {
    const call = this.#calls.get(rid);
    if (!call || call.session.id !== session.id) {
      this.#o.log(`method ${session.id}: response for unknown request $rid=${rid} ignored`);
      return;
    }
    this.#calls.delete(rid);
    clearTimeout(call.timer);
    const body = payload.length === 0 ? null : parseBody(payload);
    call.resolve({ status: 200, body: { status, payload: body } });
  }

  /** `POST /devices/{id}/messages/deviceBound`: queues a C2D message. */
  sendC2D(deviceId: string, body: Uint8Array, properties: Record<string, string>): ServiceResult {
    if (!this.#o.registry.has(deviceId)) return this.#notFound(deviceId);
    if (body.length > C2D_MAX_BYTES) {
      return error(
        413,
        413002,
        `message is ${body.length} bytes, over the ${C2D_MAX_BYTES}-byte limit`,
      );
    }
    const queue = this.#queue(deviceId);
    if (queue.messages.length >= C2D_MAX_PENDING) {
      return error(403, 403004, `device already has ${C2D_MAX_PENDING} messages waiting`);
    }
    const { "$.mid": mid, ...custom } = properties;
    const messageId = mid ?? randomUUID();
    const bag = encodePropertyBag(
      { messageId, to: `/devices/${deviceId}/messages/deviceBound` },
      custom,
    );
    queue.messages.push({
      messageId,
      topic: c2dTopic({ deviceId }, bag),
      payload: body,
      attempts: 0,
    });
    this.pump(deviceId);
    return { status: 200, body: { messageId, pending: queue.messages.length } };
  }

  #queue(deviceId: string) {
    let queue = this.#queues.get(deviceId);
    if (!queue) this.#queues.set(deviceId, queue = { messages: [], busy: false });
    return queue;
  }

  /** C2D messages waiting for `deviceId` (including one in flight). */
  c2dPending(deviceId: string): number {
    return this.#queues.get(deviceId)?.messages.length ?? 0;
  }

  /** Delivers queued C2D messages, one at a time, QoS 1, to a subscribed device. */
  pump(deviceId: string): void {
    const queue = this.#queues.get(deviceId);
    const session = this.#o.session(deviceId);
    if (!queue || queue.busy || queue.messages.length === 0) return;
    if (!session || session.subscriptionQos("c2d") === undefined) return;
    const message = queue.messages[0];
    queue.busy = true;
    session.send(message.topic, message.payload, 1, message.attempts++ > 0).then(() => {
      queue.messages.shift();
      this.#o.log(`c2d ${deviceId}: delivered ${message.messageId}`);
    }, () => {/* disconnected before PUBACK: stays queued */}).finally(() => {
      queue.busy = false;
      if (!session.closed) this.pump(deviceId);
    });
  }

  /** Ends pending method calls with 503 and stops their timers. */
  close(): void {
    for (const [rid, call] of this.#calls) {
      clearTimeout(call.timer);
      call.resolve(error(503, 503001, "the gateway is shutting down"));
      this.#calls.delete(rid);
    }
  }
}
