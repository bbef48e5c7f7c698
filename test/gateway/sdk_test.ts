/**
 * Conformance: the official Azure IoT device SDK for Node (azure-iot-device
 * with the MQTT transport), running inside Deno through its npm packages,
 * talks to the dev gateway as it would to edgeHub.
 */
import assert from "node:assert/strict";
import { Client, Message } from "azure-iot-device";
import { Mqtt } from "azure-iot-device-mqtt";
import { waitFor } from "../_helpers.ts";
import { admin, HUB, KEY_A, startTestGateway } from "./_setup.ts";

Deno.test("startGateway() receives telemetry with properties from the official SDK", async () => {
  await using gw = await startTestGateway({ adminPort: 0 });
  const cs =
    `HostName=${HUB};DeviceId=dev-1;SharedAccessKey=${KEY_A};GatewayHostName=localhost:${gw.gateway.port}`;
  const client = Client.fromConnectionString(cs, Mqtt);
  try {
    await client.setOptions({ ca: gw.gateway.rootPem });
    await client.open();
    const message = new Message(JSON.stringify({ seq: 7, temperature: 21.5 }));
    message.messageId = "sdk-m-1";
    message.contentType = "application/json";
    message.contentEncoding = "utf-8";
    message.properties.add("sensor", "cpu temp");
    await client.sendEvent(message);
    // sendEvent resolves on the PUBACK, so the message is already recorded.
    const [record] = gw.gateway.telemetry();
    assert.equal(record.deviceId, "dev-1");
    assert.deepEqual(record.body, { seq: 7, temperature: 21.5 });
    assert.equal(record.properties["$.mid"], "sdk-m-1");
    assert.equal(record.properties["$.ct"], "application/json");
    assert.equal(record.properties["$.ce"], "utf-8");
    assert.equal(record.properties.sensor, "cpu temp");

    // Twin and direct methods through the SDK's own topic handling.
    const twin = await client.getTwin();
    await new Promise<void>((resolve, reject) =>
      twin.properties.reported.update({ firmware: "sdk" }, (e?: Error) => e ? reject(e) : resolve())
    );
    const reported = await admin(gw.gateway, "GET", "/twins/dev-1");
    assert.equal(reported.body.properties.reported.firmware, "sdk");

    client.onDeviceMethod("echo", (request, response) => {
      response.send(200, { got: request.payload }, () => {});
    });
    // The SDK subscribes to methods in the background: 404103 until it has.
    const called = await waitFor(async () => {
      const r = await admin(gw.gateway, "POST", "/twins/dev-1/methods", {
        methodName: "echo",
        payload: "hi",
        responseTimeoutInSeconds: 5,
      });
      return r.status === 404 ? undefined : r;
    }, { what: "the SDK's method subscription" });
    assert.deepEqual(called, { status: 200, body: { status: 200, payload: { got: "hi" } } });
  } finally {
    await client.close();
  }
});
