/**
 * UTF-8 sizes of strings without encoding them: the outbox's byte bound,
 * message packing and the MQTT encoder's length prefixes all need the size
 * before (or instead of) the bytes.
 *
 * @module
 */

/**
 * The number of bytes `new TextEncoder().encode(text)` would produce. A
 * surrogate pair is one 4-byte code point; a lone surrogate becomes U+FFFD
 * (3 bytes), as the encoder writes it.
 */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
