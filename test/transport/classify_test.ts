import assert from "node:assert/strict";
import {
  classifyConnectError,
  clockError,
  clockIsBeforeRelease,
  CONNACK_REASONS,
  type DialContext,
  errorCode,
  isTlsProtocolError,
  TLS_PROTOCOL_HINT,
} from "../../lib/transport/classify.ts";
import { AuthError, LeafError, TrustError, UnreachableError } from "../../lib/errors.ts";
import { RELEASE_DATE } from "../../lib/version.ts";

/** A clock well after the release, so the clock check never interferes. */
const LATER = new Date(Date.parse(`${RELEASE_DATE}T00:00:00Z`) + 30 * 86_400_000);
/** A clock an RTC-less board shows before NTP has synced. */
const EPOCH = new Date("1970-01-01T00:00:42Z");

const CTX: DialContext = {
  host: "gw.local",
  port: 8883,
  caFile: "/etc/leaf/root.pem",
  now: LATER,
};

/** An error as node:net, node:dns and node:tls produce it. */
function nodeError(code: string, message = `connect ${code} 192.0.2.7:8883`): Error {
  return Object.assign(new Error(message), { code });
}

/** mqtt.js's ErrorWithReasonCode: an Error with a numeric `code`. */
function connackError(code: number): Error {
  const text = ["", "Unacceptable protocol version", "Identifier rejected", "Server unavailable"][
    code
  ] ?? (code === 4 ? "Bad username or password" : "Not authorized");
  return Object.assign(new Error(`Connection refused: ${text}`), { code });
}

function classified(error: unknown, ctx: DialContext = CTX): LeafError {
  const result = classifyConnectError(error, ctx);
  assert.ok(result instanceof LeafError, `expected a LeafError, got ${result}`);
  assert.equal(result.cause, error, "the original error is the cause");
  assert.ok(result.hint, "every classified failure says what to do next");
  return result;
}

// ------------------------------------------------------------- unreachable

Deno.test.each(["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL"])(
  "classifyConnectError() maps %s to exit 5 with code dns and the /etc/hosts hint",
  (code) => {
    const error = classified(nodeError(code, `getaddrinfo ${code} gw.local`));
    assert.ok(error instanceof UnreachableError);
    assert.equal(error.exitCode, 5);
    assert.equal(error.code, "dns");
    assert.equal(error.message, `Cannot resolve "gw.local" (${code})`);
    assert.match(error.hint ?? "", /\/etc\/hosts/);
    assert.match(error.hint ?? "", /gateway\.address/);
  },
);

Deno.test("classifyConnectError() names gateway.address when that is what failed to resolve", () => {
  const error = classified(nodeError("ENOTFOUND"), { ...CTX, address: "edge.lan" });
  assert.equal(error.message, 'Cannot resolve "edge.lan" (ENOTFOUND)');
});

Deno.test.each([
  ["ECONNREFUSED", "refused", 'Cannot connect to "gw.local:8883": connection refused'],
  ["ETIMEDOUT", "network", 'Cannot connect to "gw.local:8883": timed out'],
  ["EHOSTUNREACH", "network", 'Cannot connect to "gw.local:8883": network error EHOSTUNREACH'],
  ["ENETUNREACH", "network", 'Cannot connect to "gw.local:8883": network error ENETUNREACH'],
  ["ECONNRESET", "network", 'Cannot connect to "gw.local:8883": connection reset'],
])("classifyConnectError() maps %s to exit 5 (%s)", (code, leafCode, message) => {
  const error = classified(nodeError(code));
  assert.ok(error instanceof UnreachableError);
  assert.equal(error.exitCode, 5);
  assert.equal(error.code, leafCode);
  assert.equal(error.message, message);
  assert.match(error.hint ?? "", /8883/);
});

Deno.test("classifyConnectError() names the address dialled beside the host", () => {
  const error = classified(nodeError("ECONNREFUSED"), { ...CTX, address: "192.0.2.7" });
  assert.equal(error.message, 'Cannot connect to "gw.local:8883" (192.0.2.7): connection refused');
  assert.match(error.hint ?? "", /edgeHub/);
});

Deno.test("classifyConnectError() does not let the clock turn unreachable into a clock error", () => {
  const error = classified(nodeError("ECONNREFUSED"), { ...CTX, now: EPOCH });
  assert.equal(error.exitCode, 5);
});

// ----------------------------------------------------- not TLS on the port

/** What Deno's node:tls reports for a ClientHello answered by HTTP (measured). */
const HTTP_ANSWER =
  "received corrupt message of type InvalidContentType (SSL routines:ssl3_get_record:wrong version number)";
/** What it reports when a plain MQTT or other TCP service hangs up on the ClientHello. */
const HUNG_UP = "Client network socket disconnected before secure TLS connection was established";

Deno.test.each([
  [
    "ERR_SSL_WRONG_VERSION_NUMBER",
    HTTP_ANSWER,
    "does not speak TLS (ERR_SSL_WRONG_VERSION_NUMBER)",
  ],
  ["ERR_SSL_PACKET_LENGTH_TOO_LONG", "packet length too long", "does not speak TLS"],
  ["ECONNRESET", HUNG_UP, "closed the connection during the TLS handshake (ECONNRESET)"],
])(
  "classifyConnectError() maps %s from a port that speaks no TLS to exit 5 (tls.protocol)",
  (code, message, what) => {
    const error = classified(nodeError(code, message));
    assert.ok(error instanceof UnreachableError);
    assert.equal(error.exitCode, 5);
    assert.equal(error.code, "tls.protocol");
    assert.ok(error.message.startsWith('Cannot connect to "gw.local:8883": '), error.message);
    assert.ok(error.message.includes(what), error.message);
    assert.equal(error.hint, TLS_PROTOCOL_HINT);
    assert.equal(
      error.hint,
      "is this MQTT over TLS (8883), not plain MQTT (1883) or another service?",
    );
  },
);

Deno.test("classifyConnectError() maps an uncoded wrong-version error to tls.protocol", () => {
  const error = classified(new Error(HTTP_ANSWER));
  assert.equal(error.code, "tls.protocol");
  assert.equal(error.exitCode, 5);
});

Deno.test("classifyConnectError() keeps a reset after the handshake a network failure", () => {
  const error = classified(nodeError("ECONNRESET", "read ECONNRESET"));
  assert.equal(error.code, "network");
  assert.match(error.hint ?? "", /firewall/);
});

Deno.test("isTlsProtocolError() tells a non-TLS port from a TLS server's refusal", () => {
  const yes: [unknown, string][] = [
    ["ERR_SSL_WRONG_VERSION_NUMBER", ""],
    [undefined, HTTP_ANSWER],
    [undefined, "unexpected EOF during handshake"],
    ["ECONNRESET", HUNG_UP],
  ];
  for (const [code, message] of yes) {
    assert.ok(isTlsProtocolError(code, message), `${code} ${message}`);
  }
  const no: [unknown, string][] = [
    ["ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "tlsv1 alert unknown ca"],
    ["ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE", "handshake failure"],
    ["ERR_SSL_EE_KEY_TOO_SMALL", "ee key too small"],
    ["ERR_SSL_NO_SHARED_CIPHER", "no shared cipher"],
    ["ERR_SSL_UNSUPPORTED_PROTOCOL", "unsupported protocol"],
    ["ECONNRESET", "read ECONNRESET"],
    ["ECONNREFUSED", HUNG_UP],
    ["UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "unable to get local issuer certificate"],
    [5, "Connection refused: Not authorized"],
    [undefined, "peer closed connection without sending TLS close_notify"],
  ];
  for (const [code, message] of no) {
    assert.ok(!isTlsProtocolError(code, message), `${code} ${message}`);
  }
});

// --------------------------------------------------------------------- TLS

Deno.test.each([
  ["UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "tls.unknown_ca"],
  ["SELF_SIGNED_CERT_IN_CHAIN", "tls.unknown_ca"],
  ["DEPTH_ZERO_SELF_SIGNED_CERT", "tls.unknown_ca"],
  ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "tls.validity"],
  ["CERT_HAS_EXPIRED", "tls.validity"],
  ["CERT_NOT_YET_VALID", "tls.validity"],
])("classifyConnectError() maps %s to exit 3 (%s)", (code, leafCode) => {
  const error = classified(nodeError(code, `TLS error: ${code.toLowerCase()}`));
  assert.ok(error instanceof TrustError);
  assert.equal(error.exitCode, 3);
  assert.equal(error.code, leafCode);
  assert.ok(error.message.startsWith('Cannot connect to "gw.local:8883": '), error.message);
  assert.ok(error.message.includes(`(${code})`), error.message);
  assert.ok(error.message.includes('"/etc/leaf/root.pem"'), "names the pinned CA");
  assert.match(error.hint ?? "", /leaf check/);
});

Deno.test("classifyConnectError() says an expired certificate may be behind UNABLE_TO_VERIFY_LEAF_SIGNATURE", () => {
  const error = classified(nodeError("UNABLE_TO_VERIFY_LEAF_SIGNATURE"));
  assert.match(error.message, /expired, not yet valid, or an intermediate is missing/);
});

Deno.test("classifyConnectError() names both host names on ERR_TLS_CERT_ALTNAME_INVALID", () => {
  const error = classified(nodeError(
    "ERR_TLS_CERT_ALTNAME_INVALID",
    "Hostname/IP does not match certificate's altnames: Host: gw.local. is not in the cert's altnames: DNS:edge-01.local",
  ));
  assert.ok(error instanceof TrustError);
  assert.equal(error.exitCode, 3);
  assert.equal(error.code, "tls.hostname");
  assert.match(error.message, /^Cannot connect to "gw\.local:8883": /);
  assert.match(error.message, /its certificate names "edge-01\.local", not "gw\.local"$/);
  assert.match(error.hint ?? "", /GatewayHostName/);
});

Deno.test("classifyConnectError() handles ERR_TLS_CERT_ALTNAME_INVALID without altnames in the message", () => {
  const error = classified(nodeError("ERR_TLS_CERT_ALTNAME_INVALID", "name mismatch"));
  assert.equal(
    error.message,
    'Cannot connect to "gw.local:8883": its certificate names other hosts, not "gw.local"',
  );
});

Deno.test("classifyConnectError() maps an uncoded TLS failure to exit 3", () => {
  const error = classified(new Error("TLS handshake failed: peer sent no certificates"));
  assert.ok(error instanceof TrustError);
  assert.equal(error.code, "tls.other");
});

// -------------------------------------------------------------------- MQTT

Deno.test.each([4, 5])(
  "classifyConnectError() maps CONNACK %i to exit 4 and asks whether the device is a child of the gateway",
  (code) => {
    const error = classified(connackError(code));
    assert.ok(error instanceof AuthError);
    assert.equal(error.exitCode, 4);
    assert.equal(error.code, "auth");
    assert.equal(
      error.message,
      `The gateway at "gw.local:8883" refused the device (CONNACK ${code}: ${
        CONNACK_REASONS[code]
      })`,
    );
    assert.match(error.hint ?? "", /is this device registered and a child of the gateway\?/);
  },
);

Deno.test.each([
  [1, "unacceptable protocol version", /MQTT 3\.1\.1/],
  [2, "identifier rejected", /client id/],
  [3, "server unavailable", /retry later/],
])("classifyConnectError() maps CONNACK %i to exit 4 with its own text", (code, text, hint) => {
  const error = classified(connackError(code));
  assert.ok(error instanceof AuthError);
  assert.equal(error.exitCode, 4);
  assert.equal(error.code, `connack.${code}`);
  assert.equal(
    error.message,
    `The gateway at "gw.local:8883" refused the connection (CONNACK ${code}: ${text})`,
  );
  assert.match(error.hint ?? "", hint);
  assert.doesNotMatch(error.hint ?? "", /child of the gateway/);
});

Deno.test("classifyConnectError() accepts a plain object with a numeric code, as mqtt.js may emit", () => {
  const error = classified({ code: 5 });
  assert.equal(error.exitCode, 4);
});

// ----------------------------------------------------------------- unknown

Deno.test.each([
  ["an unknown code", nodeError("EWHATEVER", "something odd")],
  ["a TypeError", new TypeError("Cannot read properties of undefined")],
  ["a CONNACK code out of range", connackError(0)],
  [
    "a reason code beyond MQTT 3.1.1",
    Object.assign(new Error("Connection refused"), { code: 135 }),
  ],
  ["a string", "boom"],
  ["undefined", undefined],
  ["null", null],
] as [string, unknown][])("classifyConnectError() returns undefined for %s", (_, error) => {
  assert.equal(classifyConnectError(error, CTX), undefined);
});

Deno.test("errorCode() reads string and numeric codes and ignores the rest", () => {
  assert.equal(errorCode(nodeError("ENOTFOUND")), "ENOTFOUND");
  assert.equal(errorCode(connackError(5)), 5);
  assert.equal(errorCode({ code: { nested: 1 } }), undefined);
  assert.equal(errorCode(new Error("x")), undefined);
  assert.equal(errorCode("ENOTFOUND"), undefined);
  assert.equal(errorCode(null), undefined);
});

// ------------------------------------------------------------------- clock

Deno.test("clockIsBeforeRelease() allows a day of slack before the release date", () => {
  const release = Date.parse(`${RELEASE_DATE}T00:00:00Z`);
  assert.equal(clockIsBeforeRelease(EPOCH), true);
  assert.equal(clockIsBeforeRelease(new Date(release - 86_400_001)), true);
  assert.equal(clockIsBeforeRelease(new Date(release - 86_400_000)), false);
  assert.equal(clockIsBeforeRelease(new Date(release)), false);
  assert.equal(clockIsBeforeRelease(LATER), false);
});

Deno.test("clockError() is a TrustError (exit 3, code clock) that shows the time and how to fix it", () => {
  const error = clockError(EPOCH);
  assert.ok(error instanceof TrustError);
  assert.equal(error.exitCode, 3);
  assert.equal(error.code, "clock");
  assert.equal(
    error.message,
    `The system clock reads 1970-01-01T00:00:42.000Z, before this leaf release (${RELEASE_DATE})`,
  );
  assert.match(error.hint ?? "", /NTP/);
});

Deno.test.each([
  ["UNABLE_TO_GET_ISSUER_CERT_LOCALLY", nodeError("UNABLE_TO_GET_ISSUER_CERT_LOCALLY")],
  ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", nodeError("UNABLE_TO_VERIFY_LEAF_SIGNATURE")],
  ["CERT_NOT_YET_VALID", nodeError("CERT_NOT_YET_VALID")],
  ["ERR_TLS_CERT_ALTNAME_INVALID", nodeError("ERR_TLS_CERT_ALTNAME_INVALID")],
  ["an uncoded TLS failure", new Error("TLS handshake failed")],
  ["CONNACK 4", connackError(4)],
  ["CONNACK 5", connackError(5)],
] as [string, unknown][])(
  "classifyConnectError() blames a clock before the release for %s",
  (_, error) => {
    const result = classifyConnectError(error, { ...CTX, now: EPOCH });
    assert.ok(result instanceof TrustError, `got ${result}`);
    assert.equal(result.exitCode, 3);
    assert.equal(result.code, "clock");
    assert.match(result.message, /1970-01-01T00:00:42\.000Z/);
  },
);

Deno.test("classifyConnectError() keeps CONNACK 1-3 as they are when the clock is wrong", () => {
  const result = classifyConnectError(connackError(3), { ...CTX, now: EPOCH });
  assert.equal(result?.code, "connack.3");
});
