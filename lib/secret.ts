/**
 * A value that must never be printed: keys, SAS tokens, connection strings.
 *
 * `String(secret)`, `JSON.stringify(secret)` and `console.log(secret)` all
 * print `[redacted]`; only {@linkcode Secret.reveal} returns the value.
 *
 * @example
 * ```ts
 * const key = new Secret("c2VjcmV0");
 * console.log(`${key}`); // [redacted]
 * key.reveal(); // "c2VjcmV0"
 * ```
 */
export class Secret {
  #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The secret value itself; pass it only to code that needs it. */
  reveal(): string {
    return this.#value;
  }

  /** Always `[redacted]`. */
  toString(): string {
    return REDACTED;
  }

  /** Always `"[redacted]"`. */
  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for("Deno.customInspect")](): string {
    return REDACTED;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return REDACTED;
  }
}

/** The text printed in place of a secret. */
export const REDACTED = "[redacted]";
