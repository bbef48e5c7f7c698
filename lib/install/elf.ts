/**
 * Reads the target architecture from an ELF header, so `leaf install` refuses
 * an x86_64 build on a Raspberry Pi (and the reverse) before systemd fails
 * with a bare "Exec format error".
 *
 * @module
 */

/** ELF `e_machine` values of the targets `deno compile` builds for Linux. */
const MACHINES: Record<number, string> = { 62: "x86_64", 183: "aarch64" };

/**
 * The architecture named by an ELF header (`x86_64`, `aarch64`, or
 * `machine <n>`), or undefined when `head` (the first 20+ bytes of a file) is
 * not a 64-bit little-endian ELF file.
 */
export function elfArch(head: Uint8Array): string | undefined {
  if (head.length < 20) return undefined;
  if (head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) {
    return undefined;
  }
  if (head[4] !== 2 || head[5] !== 1) return undefined; // ELFCLASS64, little endian
  const machine = head[18] | (head[19] << 8);
  return MACHINES[machine] ?? `machine ${machine}`;
}

/** Reads the first bytes of `path` and returns {@linkcode elfArch}. */
export async function fileArch(path: string): Promise<string | undefined> {
  using file = await Deno.open(path, { read: true });
  const head = new Uint8Array(64);
  let n = 0;
  while (n < head.length) {
    const r = await file.read(head.subarray(n));
    if (r === null) break;
    n += r;
  }
  return elfArch(head.subarray(0, n));
}
