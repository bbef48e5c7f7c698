/**
 * TCP probing for `leaf check`: a real listener, a closed port, and the words
 * for each failure.
 */
import assert from "node:assert/strict";
import { explainTcpError, probeTcp } from "../../lib/check/tcp.ts";

Deno.test("probeTcp() connects to a listener and closes again", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept().then((conn) => conn.close());
  const result = await probeTcp("127.0.0.1", (listener.addr as Deno.NetAddr).port, 2000);
  await accepted;
  assert.equal(result.ok, true);
});

Deno.test("probeTcp() reports ECONNREFUSED when nothing listens", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const result = await probeTcp("127.0.0.1", port, 2000);
  assert.deepEqual(result.ok ? "connected" : result.code, "ECONNREFUSED");
});

Deno.test.each(
  [
    ["ECONNREFUSED", /connection refused \(nothing listens on port 8883\)/, /firewall for 8883/],
    ["ETIMEDOUT", /no answer within 5 s/, /check the firewall for 8883/],
    ["EHOSTUNREACH", /host unreachable/, /ip route get 192\.0\.2\.7/],
    ["ENETUNREACH", /network unreachable/, /no route to 192\.0\.2\.7/],
    ["EWEIRD", /connect failed \(EWEIRD\)/, /firewall for 8883/],
  ] as const,
)("explainTcpError(%j) says what happened and what to check", (code, finding, fix) => {
  const explained = explainTcpError(code, "192.0.2.7", 8883, 5000);
  assert.match(explained.finding, /^192\.0\.2\.7:8883: /);
  assert.match(explained.finding, finding);
  assert.match(explained.fix, fix);
});

Deno.test("explainTcpError() brackets an IPv6 address", () => {
  assert.match(explainTcpError("ECONNREFUSED", "::1", 8883, 5000).finding, /^\[::1\]:8883: /);
});
