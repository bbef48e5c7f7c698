/**
 * The `leaf check` runner and renderers without any network: which steps run
 * or are skipped, the exit code of the first failure, and the text and JSON
 * shapes.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { certificateJson, chainLines, renderJson, renderText } from "../../lib/check/report.ts";
import { runChecks } from "../../lib/check/run.ts";
import { type CheckContext, fail, ok, type Step, warn } from "../../lib/check/step.ts";
import { ConfigError } from "../../lib/errors.ts";
import { createPki } from "../_tls.ts";

function context(): CheckContext {
  return { timeoutMs: 1000, now: () => new Date(), cleanups: [] };
}

function step(name: string, needs: string[], run: Step["run"]): Step {
  return { name, needs, run };
}

const pass = (name: string, needs: string[] = []) =>
  step(name, needs, () => Promise.resolve(ok(`${name} fine`)));

Deno.test("runChecks() skips exactly the steps that need a failed one and exits with its class", async () => {
  const ran: string[] = [];
  const track = (s: Step): Step => ({ ...s, run: (ctx) => (ran.push(s.name), s.run(ctx)) });
  const report = await runChecks([
    track(pass("config")),
    track(pass("clock")),
    track(step("ca", ["config"], () => Promise.resolve(fail("ca bad", "fix ca", 3)))),
    track(pass("dns", ["config"])),
    track(step("tcp", ["dns"], () => Promise.resolve(fail("refused", "fix tcp", 5)))),
    track(pass("tls", ["tcp", "ca"])),
    track(pass("mqtt", ["tls"])),
  ], context());
  assert.deepEqual(ran, ["config", "clock", "ca", "dns", "tcp"]);
  assert.deepEqual(report.steps.map((s) => s.status), [
    "ok",
    "ok",
    "fail",
    "ok",
    "fail",
    "skip",
    "skip",
  ]);
  assert.equal(report.steps[5].finding, "skipped: tcp failed, ca failed");
  assert.equal(report.steps[6].finding, "skipped: tls skipped");
  assert.equal(report.exitCode, 3, "the first failure's class, not the last");
  assert.equal(report.ok, false);
});

Deno.test("runChecks() exits 0 with only warnings and runs cleanups once, in reverse", async () => {
  const order: string[] = [];
  const report = await runChecks([
    step("a", [], (ctx) => {
      ctx.cleanups.push(() => Promise.resolve(void order.push("first")));
      ctx.cleanups.push(() => Promise.resolve(void order.push("second")));
      return Promise.resolve(warn("meh", "do this"));
    }),
    pass("b", ["a"]),
  ], context());
  assert.equal(report.exitCode, 0);
  assert.equal(report.ok, true);
  assert.deepEqual(report.steps.map((s) => s.status), ["warn", "ok"]);
  assert.deepEqual(order, ["second", "first"]);
});

Deno.test("runChecks() turns a thrown LeafError into a failure with its message verbatim and exit code", async () => {
  const report = await runChecks([
    step("config", [], () => {
      throw new ConfigError('Invalid connection string: "DeviceId" is missing', {
        hint: "add DeviceId=<id>",
      });
    }),
  ], context());
  assert.deepEqual(report.steps[0], {
    name: "config",
    status: "fail",
    finding: 'Invalid connection string: "DeviceId" is missing',
    fix: "add DeviceId=<id>",
    exitCode: 2,
  });
  assert.equal(report.gateway, null);
});

Deno.test("runChecks() reports a bug in a step as exit 1, not as the user's fault", async () => {
  const report = await runChecks(
    [step("x", [], () => Promise.reject(new TypeError("oops")))],
    context(),
  );
  assert.equal(report.exitCode, 1);
  assert.match(report.steps[0].finding, /internal error \(a bug.*\): oops/);
});

Deno.test("renderText() prints one line per step with its symbol, the fix and indented details", () => {
  const text = renderText({
    ok: false,
    exitCode: 5,
    gateway: { host: "edge-gw.local", port: 8883 },
    steps: [
      { name: "dns", status: "ok", finding: "edge-gw.local → 192.168.1.10" },
      {
        name: "tcp",
        status: "fail",
        finding: "refused",
        fix: "check the firewall for 8883",
        exitCode: 5,
        lines: ["more"],
      },
      { name: "tls", status: "skip", finding: "skipped: tcp failed" },
      { name: "twin", status: "warn", finding: "no answer", fix: "later" },
    ],
  });
  assert.equal(
    text,
    [
      "✓ dns   edge-gw.local → 192.168.1.10",
      "✗ tcp   refused",
      "        fix: check the firewall for 8883",
      "        more",
      "– tls   skipped: tcp failed",
      "! twin  no answer",
      "        fix: later",
      "Failed at tcp (exit 5); 1 warning",
    ].join("\n"),
  );
});

Deno.test("renderJson() has exactly the documented keys and masks a key that slipped into a finding", () => {
  const json = JSON.parse(renderJson({
    ok: true,
    exitCode: 0,
    gateway: { host: "gw", port: 8883 },
    steps: [{
      name: "config",
      status: "ok",
      finding: "HostName=h;DeviceId=d;SharedAccessKey=c2VjcmV0",
      lines: ["text only"],
      details: { a: 1 },
    }],
  }));
  assert.deepEqual(Object.keys(json), ["ok", "exitCode", "gateway", "steps"]);
  assert.deepEqual(Object.keys(json.steps[0]), ["name", "status", "finding", "details"]);
  assert.doesNotMatch(json.steps[0].finding, /c2VjcmV0/);
});

Deno.test("chainLines() prints each certificate like openssl s_client -showcerts, marking the pinned CA", async () => {
  const pki = await createPki("Lines");
  const server = await pki.server({ altNames: ["gw.local", "edgeHub"] });
  const root = new X509Certificate(pki.root.certPem);
  const pins = new Set([certificateJson(root, new Set()).sha256]);
  const chain = [server.certPem, pki.intermediate.certPem, pki.root.certPem]
    .map((pem) => certificateJson(new X509Certificate(pem), pins));
  const lines = chainLines("Certificate chain", chain, new Date());
  assert.equal(lines[0], "Certificate chain");
  assert.equal(lines[1], " 0 s:CN=gw.local");
  assert.equal(lines[2], "   i:CN=Lines Intermediate");
  assert.equal(lines[3], "   SAN: DNS:gw.local, DNS:edgeHub");
  assert.match(lines[4], /^ {3}v:NotBefore: \S+Z; NotAfter: \S+Z \(\d+ d left\)$/);
  assert.match(lines[5], /^ {3}SHA-256: ([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.ok(lines.includes(" 2 s:CN=Lines Root  (CA, the pinned CA)"), lines.join("\n"));
});
