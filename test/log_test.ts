import assert from "node:assert/strict";
import { createLogger, type LoggerOptions, mayHoldSecret, quoteArg, redact } from "../lib/log.ts";
import { Secret } from "../lib/secret.ts";

const KEY = btoa("leaf-test-key-do-not-leak-012345");
const SIG = "bGVha3lzaWduYXR1cmUwMTIzNDU2Nzg5%3D";
const TOKEN =
  `SharedAccessSignature sr=hub.azure-devices.net%2Fdevices%2Fpi-01&sig=${SIG}&se=1900000000`;
const PEM = [
  "-----BEGIN PRIVATE KEY-----",
  "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgU2VjcmV0S2V5TWF0",
  "ZXJpYWxEb05vdExlYWs=",
  "-----END PRIVATE KEY-----",
].join("\n");
const PEM_BODY = "U2VjcmV0S2V5TWF0";

/** 2026-11-29T09:00:00.000Z */
const T0 = Date.UTC(2026, 10, 29, 9);

/** A logger that collects its lines. */
function capture(options: LoggerOptions = {}) {
  const lines: string[] = [];
  const log = createLogger({ now: () => T0, write: (line) => lines.push(line), ...options });
  return { log, lines };
}

function assertNoSecret(text: string) {
  for (const s of [KEY, SIG, PEM_BODY, "bGVha3lzaWduYXR1cmU"]) {
    assert.ok(!text.includes(s), `leaks "${s}": ${text}`);
  }
}

// -------------------------------------------------------------------- redact

Deno.test("redact() masks a SAS token up to its end", () => {
  const out = redact(`connecting with password ${TOKEN} now`);
  assert.equal(out, "connecting with password SharedAccessSignature [redacted] now");
});

Deno.test("redact() masks a SAS token inside JSON", () => {
  const out = redact(JSON.stringify({ password: TOKEN, user: "hub/pi-01" }));
  assert.equal(out, '{"password":"SharedAccessSignature [redacted]","user":"hub/pi-01"}');
  assert.deepEqual(JSON.parse(out).user, "hub/pi-01");
});

Deno.test("redact() masks SharedAccessKey= in a connection string and keeps the rest", () => {
  const out = redact(
    `HostName=hub.azure-devices.net;DeviceId=pi-01;SharedAccessKey=${KEY};GatewayHostName=gw.local`,
  );
  assert.equal(
    out,
    "HostName=hub.azure-devices.net;DeviceId=pi-01;SharedAccessKey=[redacted];GatewayHostName=gw.local",
  );
});

Deno.test("redact() masks SharedAccessKey in any case and with spaces around =", () => {
  assert.equal(redact(`sharedaccesskey = ${KEY}`), "sharedaccesskey = [redacted]");
  assert.equal(redact(`"SharedAccessKey=${KEY}"`), '"SharedAccessKey=[redacted]"');
});

Deno.test("redact() leaves SharedAccessKeyName alone", () => {
  const text = "SharedAccessKeyName=iothubowner;DeviceId=pi-01";
  assert.equal(redact(text), text);
});

Deno.test("redact() masks a bare sig= parameter", () => {
  assert.equal(
    redact(`GET /x?sr=hub&sig=${SIG}&se=1900000000`),
    "GET /x?sr=hub&sig=[redacted]&se=1900000000",
  );
});

Deno.test("redact() masks a PEM private key of any kind", () => {
  for (const kind of ["", "RSA ", "EC ", "ENCRYPTED "]) {
    const pem = PEM.replaceAll("PRIVATE KEY", `${kind}PRIVATE KEY`);
    const out = redact(`key file:\n${pem}\ncert follows`);
    assert.equal(out, "key file:\n[redacted]\ncert follows", kind);
  }
});

Deno.test("redact() masks a PEM private key inside a JSON string", () => {
  const out = redact(JSON.stringify({ key: PEM }));
  assert.equal(out, '{"key":"[redacted]"}');
});

Deno.test("redact() masks several secrets in one text", () => {
  const out = redact(`a=${TOKEN} b=SharedAccessKey=${KEY} c=${PEM}`);
  assertNoSecret(out);
});

Deno.test("redact() keeps the words around SharedAccessSignature when no token follows", () => {
  for (
    const text of [
      "SharedAccessSignature is not a valid SAS token",
      "the password must start with SharedAccessSignature and carry sr, sig and se",
      "SharedAccessSignature se=1900000000&skn=device",
    ]
  ) {
    assert.equal(redact(text), text);
  }
});

Deno.test("redact() masks a SAS token whatever the order of its fields", () => {
  assert.equal(
    redact(`token SharedAccessSignature se=1900000000&sig=${SIG}&sr=hub end`),
    "token SharedAccessSignature [redacted] end",
  );
  assert.equal(redact(`SharedAccessSignature sr=hub`), "SharedAccessSignature [redacted]");
});

Deno.test("redact() masks a URL-encoded sig%3D parameter up to the encoded &", () => {
  const encoded = encodeURIComponent(TOKEN);
  const out = redact(`GET /x?token=${encoded}&next=1`);
  assertNoSecret(out);
  assert.equal(
    out,
    "GET /x?token=SharedAccessSignature%20sr%3Dhub.azure-devices.net%252Fdevices%252Fpi-01%26sig%3D[redacted]%26se%3D1900000000&next=1",
  );
  assert.equal(redact("a%3Fsig%3Dabc%26b=1"), "a%3Fsig%3D[redacted]%26b=1");
  assert.equal(redact("design=1&consig=2"), "design=1&consig=2", "only a whole sig parameter");
});

Deno.test("redact() masks a URL-encoded SharedAccessKey%3D up to the encoded ;", () => {
  const out = redact(
    encodeURIComponent(`DeviceId=pi-01;SharedAccessKey=${KEY};GatewayHostName=gw`),
  );
  assertNoSecret(out);
  assert.equal(out, "DeviceId%3Dpi-01%3BSharedAccessKey%3D[redacted]%3BGatewayHostName%3Dgw");
});

Deno.test("redact() masks a truncated PEM private key (BEGIN without END)", () => {
  const truncated = PEM.split("\n").slice(0, 3).join("\n");
  assert.equal(redact(`key file:\n${truncated}`), "key file:\n[redacted]");
  const inJson = redact(JSON.stringify({ key: truncated, file: "/etc/leaf/device.key" }));
  assertNoSecret(inJson);
  assert.deepEqual(JSON.parse(inJson), { key: "[redacted]", file: "/etc/leaf/device.key" });
  const encrypted =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nU2VjcmV0S2V5TWF0";
  assert.equal(redact(encrypted), "[redacted]");
});

// ----------------------------------------------------------- quoteArg

Deno.test("quoteArg() quotes a short harmless value", () => {
  for (const value of ["extra", "chekc", "/etc/leaf/leaf.yaml", "-1", "8883", ""]) {
    assert.equal(quoteArg(value, "argument 1"), `"${value}"`, value);
    assert.equal(mayHoldSecret(value), false, value);
  }
});

Deno.test("quoteArg() names by position a value that could hold a secret", () => {
  for (
    const value of [
      `HostName=hub;DeviceId=pi-01;SharedAccessKey=${KEY}`,
      KEY,
      KEY.replace(/=+$/, ""),
      "a=b",
      "x;y",
      "x".repeat(33),
      "two\nlines",
      TOKEN,
    ]
  ) {
    assert.equal(
      quoteArg(value, "argument 2"),
      "argument 2 (not shown: it may hold a secret)",
      value,
    );
  }
});

Deno.test("redact() leaves a certificate and ordinary text untouched", () => {
  const text = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\nsignal=5 design=ok";
  assert.equal(redact(text), text);
});

// -------------------------------------------------------------------- logger

Deno.test("createLogger() writes text lines with time, level, message and fields", () => {
  const { log, lines } = capture();
  log.info("connected", { host: "gw.local", port: 8883, tls: true });
  log.warn("slow ack", { note: "took a while", empty: "" });
  assert.deepEqual(lines, [
    "2026-11-29T09:00:00.000Z INFO  connected host=gw.local port=8883 tls=true",
    '2026-11-29T09:00:00.000Z WARN  slow ack note="took a while" empty=""',
  ]);
});

Deno.test("createLogger() writes errors and objects in text fields as JSON", () => {
  const { log, lines } = capture();
  log.error("send failed", { error: new Error("boom"), counts: { sent: 1 } });
  assert.equal(
    lines[0],
    '2026-11-29T09:00:00.000Z ERROR send failed error="boom" counts={"sent":1}',
  );
});

Deno.test("createLogger() writes one JSON object per line in json format", () => {
  const { log, lines } = capture({ format: "json" });
  log.info("connected", { host: "gw.local", port: 8883 });
  log.error("send failed", { error: new Error("boom") });
  assert.equal(lines.length, 2);
  assert.deepEqual(JSON.parse(lines[0]), {
    time: "2026-11-29T09:00:00.000Z",
    level: "info",
    msg: "connected",
    host: "gw.local",
    port: 8883,
  });
  assert.deepEqual(JSON.parse(lines[1]), {
    time: "2026-11-29T09:00:00.000Z",
    level: "error",
    msg: "send failed",
    error: "boom",
  });
  for (const line of lines) assert.ok(!line.includes("\n"));
});

Deno.test("createLogger() prints info and above by default", () => {
  const { log, lines } = capture();
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  assert.deepEqual(lines.map((l) => l.split(" ")[1]), ["INFO", "WARN", "ERROR"]);
  assert.equal(log.enabled("debug"), false);
  assert.equal(log.enabled("info"), true);
});

Deno.test("createLogger() filters by level", () => {
  const cases: [LoggerOptions["level"], string[]][] = [
    ["debug", ["d", "i", "w", "e"]],
    ["info", ["i", "w", "e"]],
    ["warn", ["w", "e"]],
    ["error", ["e"]],
  ];
  for (const [level, expected] of cases) {
    const { log, lines } = capture({ level, format: "json" });
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    assert.deepEqual(lines.map((l) => JSON.parse(l).msg), expected, String(level));
    assert.equal(log.enabled("error"), true);
    assert.equal(log.enabled("debug"), level === "debug");
  }
});

Deno.test("createLogger() prints a Secret in fields as [redacted]", () => {
  for (const format of ["text", "json"] as const) {
    const { log, lines } = capture({ format });
    log.info("auth", { key: new Secret(KEY), token: new Secret(TOKEN) });
    assert.ok(lines[0].includes("[redacted]"), lines[0]);
    assertNoSecret(lines[0]);
    if (format === "json") {
      assert.deepEqual(JSON.parse(lines[0]).key, "[redacted]");
    } else {
      assert.match(lines[0], / key="\[redacted\]" token="\[redacted\]"$/);
    }
  }
});

Deno.test("createLogger() redacts secrets in messages, fields and error messages", () => {
  for (const format of ["text", "json"] as const) {
    const { log, lines } = capture({ format });
    log.info(`using ${TOKEN}`);
    log.warn("bad string", { cs: `HostName=h;DeviceId=d;SharedAccessKey=${KEY}` });
    log.error("failed", { error: new Error(`rejected ${TOKEN}`), pem: PEM });
    assert.equal(lines.length, 3);
    for (const line of lines) {
      assertNoSecret(line);
      if (format === "json") JSON.parse(line);
    }
  }
});

Deno.test("createLogger() uses the injected clock", () => {
  let t = T0;
  const lines: string[] = [];
  const log = createLogger({ now: () => t, write: (l) => lines.push(l) });
  log.info("a");
  t += 1_500;
  log.info("b");
  assert.ok(lines[0].startsWith("2026-11-29T09:00:00.000Z "));
  assert.ok(lines[1].startsWith("2026-11-29T09:00:01.500Z "));
});
