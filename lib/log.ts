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

const SECRET_PATTERNS: RegExp[] = [
  /SharedAccessSignature\s+[^\s"',;]+(?:\s*&\s*[^\s"',;]+)*/g,
  /(SharedAccessKey\s*=\s*)[^;\s"']+/gi,
  /(\bsig=)[^&\s"']+/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
];

/** Masks SAS tokens, keys and private keys in `text`. */
export function redact(text: string): string {
  let out = text;
  out = out.replace(SECRET_PATTERNS[0], `SharedAccessSignature ${REDACTED}`);
  out = out.replace(SECRET_PATTERNS[1], `$1${REDACTED}`);
  out = out.replace(SECRET_PATTERNS[2], `$1${REDACTED}`);
  out = out.replace(SECRET_PATTERNS[3], REDACTED);
  return out;
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
