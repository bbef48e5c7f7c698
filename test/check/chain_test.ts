/**
 * The pure chain diagnosis of `leaf check`: certificates made for each case,
 * no network. Names read as the finding the user would see.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { diagnoseChain } from "../../lib/check/chain.ts";
import { hostMatchesSan } from "../../lib/check/san.ts";
import { issueCertificate } from "../../lib/trust/issue_certificate.ts";
import { createPki } from "../_tls.ts";

const DAY = 86_400_000;
const x = (pem: string) => new X509Certificate(pem);

const gateway = await createPki("Gateway");
const stranger = await createPki("Stranger");
/** Same root name as `gateway`, another key: a regenerated CA. */
const regenerated = await createPki("Gateway");
const good = await gateway.server({ altNames: ["localhost", "edgeHub"] });
const strangerLeaf = await stranger.server({ altNames: ["localhost"] });
const root = x(gateway.root.certPem);
/** After every fixture's notBefore (the CAs start at their creation second). */
const NOW = new Date();
const intermediate = x(gateway.intermediate.certPem);

function diagnose(presented: string[], options: { host?: string; anchors?: string[] } = {}) {
  return diagnoseChain({
    presented: presented.map(x),
    anchors: (options.anchors ?? [gateway.root.certPem]).map(x),
    host: options.host ?? "localhost",
    now: NOW,
  });
}

Deno.test("diagnoseChain() finds nothing wrong with leaf + intermediate + pinned root", () => {
  const d = diagnose([good.certPem, gateway.intermediate.certPem, gateway.root.certPem]);
  assert.deepEqual(d.problems, []);
  assert.equal(d.leadsToPin, true);
});

Deno.test("diagnoseChain() follows leaf + intermediate to the pinned root the server did not send", () => {
  const d = diagnose([good.certPem, gateway.intermediate.certPem]);
  assert.deepEqual(d.problems, []);
  assert.equal(d.leadsToPin, true);
});

Deno.test("diagnoseChain() accepts a pinned intermediate as the anchor", () => {
  const d = diagnose([good.certPem], { anchors: [gateway.intermediate.certPem] });
  assert.deepEqual(d.problems, []);
});

Deno.test("diagnoseChain() names the root a foreign chain leads to and the pinned root", () => {
  const d = diagnose([strangerLeaf.certPem, stranger.intermediate.certPem, stranger.root.certPem]);
  assert.equal(d.leadsToPin, false);
  assert.equal(d.problems[0].kind, "untrusted-root");
  assert.equal(d.problems[0].severity, "fail");
  assert.match(d.problems[0].finding, /leads to the root "CN=Stranger Root"/);
  assert.match(d.problems[0].finding, /not to the pinned root "CN=Gateway Root"/);
});

Deno.test("diagnoseChain() names the unsent issuer when a foreign chain stops below its root", () => {
  const d = diagnose([strangerLeaf.certPem, stranger.intermediate.certPem]);
  assert.equal(d.problems[0].kind, "unknown-issuer");
  assert.match(d.problems[0].finding, /stops at "CN=Stranger Intermediate"/);
  assert.match(d.problems[0].finding, /issuer "CN=Stranger Root" was not sent/);
  assert.match(d.problems[0].finding, /pinned root "CN=Gateway Root"/);
});

Deno.test("diagnoseChain() says the intermediate is missing when the server sends only its leaf", () => {
  const d = diagnose([good.certPem]);
  assert.equal(d.problems.length, 1);
  assert.equal(d.problems[0].kind, "missing-intermediate");
  assert.match(d.problems[0].finding, /intermediate missing/);
  assert.match(d.problems[0].finding, /issuer "CN=Gateway Intermediate" was not sent/);
  assert.match(d.problems[0].fix, /full chain/);
});

Deno.test("diagnoseChain() tells a regenerated root with the pinned root's name apart", async () => {
  const leaf = await regenerated.server({ altNames: ["localhost"] });
  const d = diagnose([leaf.certPem, regenerated.intermediate.certPem, regenerated.root.certPem]);
  assert.equal(d.problems[0].kind, "same-name-other-key");
  assert.match(d.problems[0].finding, /named "CN=Gateway Root" like the pinned root/);
  assert.match(d.problems[0].finding, /another key/);
  const unsent = diagnose([leaf.certPem, regenerated.intermediate.certPem]);
  assert.equal(unsent.problems[0].kind, "same-name-other-key");
});

Deno.test("diagnoseChain() fails an expired server certificate with its date, though the chain is good", async () => {
  const expired = await gateway.server({
    notBefore: new Date(NOW.getTime() - 40 * DAY),
    notAfter: new Date(NOW.getTime() - 10 * DAY),
  });
  const d = diagnose([expired.certPem, gateway.intermediate.certPem]);
  assert.equal(d.leadsToPin, true);
  assert.equal(d.problems[0].kind, "expired");
  assert.match(d.problems[0].finding, /the server certificate "CN=localhost" expired on \d{4}-/);
  assert.match(d.problems[0].finding, /10 days ago/);
});

Deno.test("diagnoseChain() fails a not-yet-valid server certificate and points at the clock", async () => {
  const future = await gateway.server({
    notBefore: new Date(NOW.getTime() + 10 * DAY),
    notAfter: new Date(NOW.getTime() + 40 * DAY),
  });
  const d = diagnose([future.certPem, gateway.intermediate.certPem]);
  assert.equal(d.problems[0].kind, "not-yet-valid");
  assert.match(d.problems[0].finding, /is not valid until/);
  assert.match(d.problems[0].fix, /clock/);
});

Deno.test("diagnoseChain() warns (not fails) about a certificate that expires within 7 days", async () => {
  const soon = await gateway.server({ notAfter: new Date(NOW.getTime() + 3 * DAY) });
  const d = diagnose([soon.certPem, gateway.intermediate.certPem]);
  assert.deepEqual(d.problems.map((p) => [p.kind, p.severity]), [["expiring", "warn"]]);
  assert.match(d.problems[0].finding, /expires on .* \(in [23] days\)/);
});

Deno.test("diagnoseChain() lists the SANs when the host is not among them", () => {
  const d = diagnose([good.certPem, gateway.intermediate.certPem], { host: "gw.example.net" });
  assert.equal(d.problems.length, 1);
  assert.equal(d.problems[0].kind, "hostname");
  assert.match(
    d.problems[0].finding,
    /"gw\.example\.net" is not in .* SANs: DNS:localhost, DNS:edgeHub/,
  );
  assert.match(d.problems[0].fix, /GatewayHostName must equal the hostname in .*config\.toml/);
});

Deno.test("diagnoseChain() says a certificate without SAN cannot match, whatever its CN", async () => {
  const noSan = await issueCertificate({
    commonName: "localhost",
    issuer: { cert: gateway.intermediate.cert, key: gateway.intermediate.key },
    notBefore: new Date(NOW.getTime() - DAY),
  });
  const d = diagnose([noSan.certPem, gateway.intermediate.certPem]);
  assert.equal(d.problems[0].kind, "hostname");
  assert.match(d.problems[0].finding, /no subjectAltName \(subject "CN=localhost"\)/);
});

Deno.test("diagnoseChain() puts failures before warnings and reports each problem once", async () => {
  const soon = await gateway.server({
    altNames: ["edge-01.local"],
    notAfter: new Date(NOW.getTime() + 2 * DAY),
  });
  const d = diagnose([soon.certPem], { host: "gw.local" });
  assert.deepEqual(d.problems.map((p) => p.kind), ["missing-intermediate", "hostname", "expiring"]);
});

Deno.test("diagnoseChain() reports an empty chain", () => {
  const d = diagnoseChain({ presented: [], anchors: [root], host: "gw", now: NOW });
  assert.equal(d.problems[0].kind, "empty");
  assert.ok(intermediate.ca, "fixture sanity: the intermediate is a CA");
});

Deno.test.each(
  [
    ["gw.local", ["DNS:gw.local"], true],
    ["GW.Local", ["DNS:gw.local"], true],
    ["gw.local.", ["DNS:gw.local"], true],
    ["gw.local", ["DNS:edgeHub", "DNS:gw.local"], true],
    ["gw.example.net", ["DNS:*.example.net"], true],
    ["a.gw.example.net", ["DNS:*.example.net"], false],
    ["example.net", ["DNS:*.example.net"], false],
    ["gw.local", ["DNS:other.local"], false],
    ["gw.local", [], false],
    ["10.0.0.5", ["IP:10.0.0.5"], true],
    ["10.0.0.5", ["DNS:10.0.0.5"], false],
    ["10.0.0.5", ["IP:10.0.0.6"], false],
    ["::1", ["IP:0:0:0:0:0:0:0:1"], true],
    ["gw.local", ["IP:10.0.0.5"], false],
  ] as const,
)("hostMatchesSan(%j, %j) is %j", (host, sans, expected) => {
  assert.equal(hostMatchesSan(host, [...sans]), expected);
});
