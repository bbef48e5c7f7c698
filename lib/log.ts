/**
 * Log lines: human text by default, one JSON object per line with
 * `format: "json"` (for journald and fleet tools). Everything passes through
 * {@linkcode redact}, so a token or key that slips into a message is masked.
 *
 * @module
 */
import { REDACTED } from "./secret.ts";

/** Log levels, least to most severe. */
export type Level = "debug" | "info" | "warn" | "error";

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lowest level printed. @default "info" */
  level?: Level;
  /** `text` or `json`. @default "text" */
  format?: "text" | "json";
  /** Where lines go. @default stderr */
  write?: (line: string) => void;
  /** Clock. @default Date.now */
  now?: () => number;
}

/** A logger. `fields` are printed as `k=v` (text) or merged (json). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** True when `level` would be printed. */
  enabled(level: Level): boolean;
}

/** `SharedAccessSignature <token>`; masked only when the token has `sr=` or `sig=`. */
const SAS_TOKEN = /SharedAccessSignature\s+([^\s"',;]+(?:\s*&\s*[^\s"',;]+)*)/g;
const SAS_FIELD = /(?:^|[&\s"'])(?:sr|sig)(?:=|%3D)/i;
/** `SharedAccessKey=...`, also URL-encoded (`%3D`, ending at `%3B`). */
const SHARED_ACCESS_KEY = /(SharedAccessKey\s*(?:=|%3D)\s*)(?:(?!%3B)[^;\s"'])+/gi;
/** A bare `sig=...` parameter, also URL-encoded (`sig%3D...`, ending at `%26`). */
const SIG_PARAM = /((?:(?<![A-Za-z0-9_])|(?<=%[0-9A-F]{2}))sig(?:=|%3D))(?:(?!%26)[^&\s"'])+/gi;
/** A PEM private key, or its truncated beginning (BEGIN without END). */
const PRIVATE_KEY =
  /-----BEGIN [A-Z ]*PRIVATE KEY-----(?:[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----|(?:[A-Za-z0-9+/=:,\- \t\r\n]|\\[nrt])*)/g;

/** Masks SAS tokens, keys, signatures and private keys in `text`. */
export function redact(text: string): string {
  return text
    .replace(
      SAS_TOKEN,
      (match, token: string) =>
        SAS_FIELD.test(` ${token}`) ? `SharedAccessSignature ${REDACTED}` : match,
    )
    .replace(SHARED_ACCESS_KEY, `$1${REDACTED}`)
    .replace(SIG_PARAM, `$1${REDACTED}`)
    .replace(PRIVATE_KEY, REDACTED);
}

/**
 * True when a command-line value could be a secret, so messages must not
 * echo it: it has `=` or `;` (connection strings, tokens), is long, spans
 * lines, or looks like a base64 key.
 */
export function mayHoldSecret(value: string): boolean {
  return /[=;\p{Cc}]/u.test(value) || value.length > 32 ||
    /^(?=.*\d)(?=.*[a-z])(?=.*[A-Z])[A-Za-z0-9+/_-]{16,}$/.test(value);
}

/**
 * `"value"` for a message, or `position` (e.g. `argument 1`) when the value
 * could hold a secret ({@linkcode mayHoldSecret}).
 *
 * @example
 * ```ts
 * quoteArg("extra", "argument 1"); // '"extra"'
 * quoteArg("HostName=h;SharedAccessKey=k", "argument 1"); // "argument 1 (not shown: it may hold a secret)"
 * ```
 */
export function quoteArg(value: string, position: string): string {
  return mayHoldSecret(value) ? `${position} (not shown: it may hold a secret)` : `"${value}"`;
}

function textValue(v: unknown): string {
  if (typeof v === "string") return /[\s"=]/.test(v) || v === "" ? JSON.stringify(v) : v;
  if (v instanceof Error) return JSON.stringify(v.message);
  return typeof v === "object" && v !== null ? JSON.stringify(v) : String(v);
}

/** Creates a logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? "info"];
  const format = options.format ?? "text";
  const encoder = new TextEncoder();
  const write = options.write ??
    ((line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n")));
  const now = options.now ?? Date.now;
  const emit = (level: Level, msg: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[level] < min) return;
    const time = new Date(now()).toISOString();
    if (format === "json") {
      const extra: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(fields)) extra[k] = v instanceof Error ? v.message : v;
      write(redact(JSON.stringify({ time, level, msg, ...extra })));
    } else {
      const kv = Object.entries(fields).map(([k, v]) => ` ${k}=${textValue(v)}`).join("");
      write(redact(`${time} ${level.toUpperCase().padEnd(5)} ${msg}${kv}`));
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    enabled: (level) => ORDER[level] >= min,
  };
}
