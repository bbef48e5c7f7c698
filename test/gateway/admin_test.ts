/**
 * The admin API refuses what a web page in the developer's browser could
 * send it (CSRF, DNS rebinding) and still serves its own page, curl and the
 * tests' JSON calls.
 */
import assert from "node:assert/strict";
import { admin, startTestGateway } from "./_setup.ts";

/** The desired properties of `dev-1`'s twin. */
async function desired(gw: Parameters<typeof admin>[0]): Promise<Record<string, unknown>> {
  return (await admin(gw, "GET", "/twins/dev-1")).body.properties.desired;
}

/** Sends raw HTTP/1.1 (to set a Host header fetch would not) and returns the status. */
async function rawStatus(port: number, request: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    let text = "";
    const buffer = new Uint8Array(4096);
    while (!/\r\n\r\n/.test(text)) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  } finally {
    conn.close();
  }
}

Deno.test("admin API refuses a body a page could send without preflight (415), changing nothing", async () => {
  await using gw = await startTestGateway({ adminPort: 0 });
  const url = `http://127.0.0.1:${gw.gateway.adminPort}`;
  const patch = JSON.stringify({ properties: { desired: { mode: "pwned" } } });
  for (
    const type of [
      "text/plain;charset=UTF-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
    ]
  ) {
    const response = await fetch(`${url}/twins/dev-1`, {
      method: "PATCH",
      headers: { "content-type": type },
      body: patch,
    });
    assert.equal(response.status, 415, type);
    const body = await response.json();
    assert.match(body.message, /needs Content-Type: application\/json/);
  }
  const form = await fetch(`${url}/outage`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "mode=drop",
  });
  assert.equal(form.status, 415);
  await form.body?.cancel();
  // A body without any Content-Type (a Blob posted with mode: "no-cors").
  const untyped = await fetch(`${url}/outage`, {
    method: "POST",
    body: new Blob([JSON.stringify({ mode: "drop" })]),
  });
  assert.equal(untyped.status, 415);
  await untyped.body?.cancel();
  assert.equal((await desired(gw.gateway)).mode, undefined, "the twin is unchanged");
});

Deno.test("admin API refuses a POST from another web origin (403), even as JSON", async () => {
  await using gw = await startTestGateway({ adminPort: 0 });
  const port = gw.gateway.adminPort!;
  const call = (origin: string) =>
    fetch(`http://127.0.0.1:${port}/twins/dev-1`, {
      method: "PATCH",
      headers: { "content-type": "application/json", origin },
      body: JSON.stringify({ properties: { desired: { mode: origin } } }),
    });
  for (const origin of ["https://evil.example", "null", `http://127.0.0.1:${port + 1}`]) {
    const response = await call(origin);
    assert.equal(response.status, 403, origin);
    assert.match((await response.json()).message, /web origin .* is refused/);
  }
  assert.equal((await desired(gw.gateway)).mode, undefined);
  // Its own origin (the live page) may.
  const own = await call(`http://127.0.0.1:${port}`);
  assert.equal(own.status, 200);
  await own.body?.cancel();
  assert.equal((await desired(gw.gateway)).mode, `http://127.0.0.1:${port}`);
});

Deno.test("admin API refuses a foreign Host (DNS rebinding) and serves loopback names", async () => {
  await using gw = await startTestGateway({ adminPort: 0 });
  const port = gw.gateway.adminPort!;
  const get = (host: string) =>
    rawStatus(port, `GET /devices HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  assert.equal(await get(`attacker.example:${port}`), 403);
  assert.equal(await get(`127.0.0.1:${port}`), 200);
  assert.equal(await get(`localhost:${port}`), 200);
  // A forwarded port (ssh -L 9000:127.0.0.1:N) still names a loopback host.
  assert.equal(await get("localhost:9000"), 200);
});

Deno.test("admin API takes a raw C2D body as application/octet-stream and a bodyless POST", async () => {
  await using gw = await startTestGateway({ adminPort: 0 });
  const url = `http://127.0.0.1:${gw.gateway.adminPort}`;
  const raw = await fetch(`${url}/devices/dev-1/messages/deviceBound`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body: new Uint8Array([1, 2, 3]),
  });
  assert.equal(raw.status, 200);
  await raw.body?.cancel();
  assert.equal(gw.gateway.devices().find((d) => d.id === "dev-1")?.c2dPending, 1);
  const octetElsewhere = await fetch(`${url}/outage`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body: "{}",
  });
  assert.equal(octetElsewhere.status, 415, "octet-stream only for a C2D message");
  await octetElsewhere.body?.cancel();
  const disconnect = await fetch(`${url}/devices/dev-1/disconnect`, { method: "POST" });
  assert.equal(disconnect.status, 200);
  assert.deepEqual(await disconnect.json(), { closed: 0 });
});

Deno.test("admin API still serves its live page and GETs without special headers", async () => {
  await using gw = await startTestGateway({ adminPort: 0 });
  const page = await fetch(`http://127.0.0.1:${gw.gateway.adminPort}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /leaf dev gateway/);
  const devices = await fetch(`http://localhost:${gw.gateway.adminPort}/devices`);
  assert.equal(devices.status, 200);
  assert.equal((await devices.json()).length, 1);
});
