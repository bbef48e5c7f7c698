import assert from "node:assert/strict";
import { utf8Length } from "../lib/utf8.ts";

const encoded = (text: string) => new TextEncoder().encode(text).length;

Deno.test("utf8Length() equals TextEncoder for ASCII, 2-, 3- and 4-byte code points", () => {
  for (
    const text of [
      "",
      "seq",
      "°C",
      "µW",
      "€",
      "温度",
      "😀",
      "a😀b°€",
      "\u0000\u007f\u0080\u07ff\u0800\uffff",
    ]
  ) {
    assert.equal(utf8Length(text), encoded(text), JSON.stringify(text));
  }
});

Deno.test("utf8Length() counts a lone surrogate as U+FFFD, like TextEncoder", () => {
  for (
    const text of ["\ud83d", "\ude00", "a\ud83db", "\ud83d\ud83d\ude00", "\ude00\ud83d", "x\ud83d"]
  ) {
    assert.equal(utf8Length(text), encoded(text), JSON.stringify(text));
  }
});

Deno.test("utf8Length() equals TextEncoder on random UTF-16, unpaired surrogates included", () => {
  let state = 12345;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  for (let round = 0; round < 2000; round++) {
    const units = Array.from({ length: next() % 12 }, () => {
      const pick = next() % 4;
      return pick === 0 ? next() % 0x80 : pick === 1 ? 0xd800 + (next() % 0x800) : next() % 0x10000;
    });
    const text = String.fromCharCode(...units);
    assert.equal(utf8Length(text), encoded(text), JSON.stringify(units));
  }
});
