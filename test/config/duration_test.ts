import assert from "node:assert/strict";
import {
  formatByteSize,
  formatDuration,
  parseByteSize,
  parseDuration,
} from "../../lib/config/duration.ts";

Deno.test("parseDuration() reads every unit config accepts", () => {
  const cases: [string, number][] = [
    ["500ms", 500],
    ["10s", 10_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1d", 86_400_000],
    ["0s", 0],
    ["1.5s", 1_500],
    ["0.5m", 30_000],
    [" 10 s ", 10_000],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

Deno.test("parseDuration() rounds fractions of a millisecond", () => {
  assert.equal(parseDuration("1.4ms"), 1);
  assert.equal(parseDuration("1.6ms"), 2);
});

Deno.test("parseDuration() returns undefined for what is not a duration", () => {
  for (
    const text of [
      "",
      "10",
      "10 sec",
      "10S",
      "-5s",
      "s",
      "1w",
      "1h30m",
      "1e3ms",
      ".5s",
      "10s extra",
      `${"9".repeat(400)}ms`,
    ]
  ) {
    assert.equal(parseDuration(text), undefined, JSON.stringify(text));
  }
});

Deno.test("formatDuration() picks the largest unit that divides exactly", () => {
  const cases: [number, string][] = [
    [0, "0ms"],
    [1, "1ms"],
    [500, "500ms"],
    [1_000, "1s"],
    [1_500, "1500ms"],
    [90_000, "90s"],
    [300_000, "5m"],
    [3_600_000, "1h"],
    [5_400_000, "90m"],
    [86_400_000, "1d"],
    [172_800_000, "2d"],
  ];
  for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms));
});

Deno.test("formatDuration() output parses back to the same value", () => {
  for (const ms of [0, 7, 999, 1_000, 61_000, 1_740_000, 3_600_000, 86_400_000, 90_061_001]) {
    assert.equal(parseDuration(formatDuration(ms)), ms, String(ms));
  }
});

Deno.test("parseByteSize() reads plain numbers, decimal and binary units in any case", () => {
  const cases: [string | number, number][] = [
    ["4096", 4096],
    [4096, 4096],
    [0, 0],
    ["10b", 10],
    ["1KB", 1_000],
    ["10MB", 10_000_000],
    ["2GB", 2_000_000_000],
    ["512KiB", 512 * 1024],
    ["64MiB", 64 * 1024 * 1024],
    ["1GiB", 1024 ** 3],
    ["64 mib", 64 * 1024 * 1024],
    ["1.5KiB", 1536],
    [" 8 KiB ", 8192],
  ];
  for (const [text, bytes] of cases) assert.equal(parseByteSize(text), bytes, String(text));
});

Deno.test("parseByteSize() returns undefined for what is not a size", () => {
  for (
    const text of [
      "",
      "KiB",
      "-1",
      "10XB",
      "10 k",
      "1e3",
      "64 MiB extra",
      1.5,
      -1,
      Number.NaN,
      Infinity,
    ]
  ) {
    assert.equal(parseByteSize(text), undefined, String(text));
  }
});

Deno.test("parseByteSize() rejects sizes too large to count exactly", () => {
  assert.equal(parseByteSize("9".repeat(400)), undefined);
  assert.equal(parseByteSize(`${"9".repeat(30)}GiB`), undefined);
  assert.equal(parseByteSize(2 ** 60), undefined);
});

Deno.test("formatByteSize() uses binary units only when they divide exactly", () => {
  const cases: [number, string][] = [
    [0, "0"],
    [1000, "1000"],
    [1024, "1KiB"],
    [1536, "1536"],
    [4096, "4KiB"],
    [64 * 1024 * 1024, "64MiB"],
    [1024 ** 3, "1GiB"],
    [3 * 1024 ** 3, "3GiB"],
  ];
  for (const [bytes, text] of cases) assert.equal(formatByteSize(bytes), text, String(bytes));
});

Deno.test("formatByteSize() output parses back to the same value", () => {
  for (const bytes of [0, 1, 1023, 1024, 4096, 10_000_000, 64 * 1024 * 1024, 5 * 1024 ** 3]) {
    assert.equal(parseByteSize(formatByteSize(bytes)), bytes, String(bytes));
  }
});
