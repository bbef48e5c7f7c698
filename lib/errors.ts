/**
 * Errors that are the user's or the environment's fault, as opposed to bugs.
 *
 * A `LeafError` carries a stable `code`, the process exit code from the CLI
 * contract (../CLI.md "Exit codes") and an optional `hint` that tells the user
 * what to do next. `main.ts` prints `message` (plus `hint`) as one line on
 * stderr and exits with `exitCode`; anything else is treated as a bug (exit 1).
 *
 * @example
 * ```ts
 * throw new ConfigError("gateway.port: \"x\" is not a port number", {
 *   hint: "use an integer between 1 and 65535",
 * });
 * ```
 */

/** Exit codes of the CLI contract. */
export const EXIT = {
  ok: 0,
  bug: 1,
  usage: 2,
  trust: 3,
  auth: 4,
  unreachable: 5,
} as const;

/** Options accepted by every {@linkcode LeafError}. */
export interface LeafErrorOptions {
  /** What the user should do next; printed after the message. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
  /** A more specific stable code than the class default. */
  code?: string;
}

/** Base class of every error that is not a bug. */
export class LeafError extends Error {
  /** Stable machine-readable code, e.g. `config`, `tls.unknown_ca`. */
  readonly code: string;
  /** Process exit code (see {@linkcode EXIT}). */
  readonly exitCode: number;
  /** What to do next, or undefined. */
  readonly hint?: string;

  constructor(
    message: string,
    exitCode: number,
    code: string,
    options: LeafErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.code = options.code ?? code;
    this.hint = options.hint;
  }

  /** Message and hint as the one line printed to the user. */
  oneLine(): string {
    return this.hint ? `${this.message}: ${this.hint}` : this.message;
  }
}

/** Bad command-line usage (exit 2). */
export class UsageError extends LeafError {
  constructor(message: string, options?: LeafErrorOptions) {
    super(message, EXIT.usage, "usage", options);
  }
}

/** Invalid config, connection string or input file (exit 2). */
export class ConfigError extends LeafError {
  constructor(message: string, options?: LeafErrorOptions) {
    super(message, EXIT.usage, "config", options);
  }
}

/** TLS trust failure: unknown CA, name mismatch, validity (exit 3). */
export class TrustError extends LeafError {
  constructor(message: string, options?: LeafErrorOptions) {
    super(message, EXIT.trust, "tls", options);
  }
}

/** The gateway refused our credentials (exit 4). */
export class AuthError extends LeafError {
  constructor(message: string, options?: LeafErrorOptions) {
    super(message, EXIT.auth, "auth", options);
  }
}

/** The gateway cannot be reached: DNS, refused, timeout (exit 5). */
export class UnreachableError extends LeafError {
  constructor(message: string, options?: LeafErrorOptions) {
    super(message, EXIT.unreachable, "unreachable", options);
  }
}
