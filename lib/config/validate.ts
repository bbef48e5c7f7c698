/**
 * Validates a parsed config document against the schema, fills defaults and
 * converts durations/sizes; and renders a validated config back to plain data
 * with secrets redacted. Pure: the caller supplies `locate` to turn a key path
 * into "file:line" for messages.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { redact } from "../log.ts";
import { Secret } from "../secret.ts";
import { formatByteSize, formatDuration, parseByteSize, parseDuration } from "./duration.ts";
import type { Field, ObjectField } from "./schema_types.ts";

/** A key path, e.g. `["sensors", 2, "interval"]`. */
export type KeyPath = (string | number)[];

/** Formats a key path as `sensors[2].interval`. */
export function formatPath(path: KeyPath): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out || "(top level)";
}

/** Maps a key path to a location prefix like `leaf.yaml:12`. */
export type Locate = (path: KeyPath) => string | undefined;

function show(value: unknown): string {
  // A connection string pasted in the wrong place must not be echoed.
  if (typeof value === "string") return JSON.stringify(redact(value));
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return String(value);
}

/** Edit distance of `a` and `b` (insert, delete, substitute). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}

/** The known key `key` was probably meant to be: same letters in another case, or a typo away. */
function nearKey(key: string, known: string[]): string | undefined {
  const lower = key.toLowerCase();
  const same = known.find((k) => k.toLowerCase() === lower);
  if (same !== undefined) return same;
  const limit = lower.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const k of known) {
    const d = distance(lower, k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

class Validator {
  constructor(private locate: Locate) {}

  fail(path: KeyPath, message: string, hint?: string): never {
    const where = this.locate(path);
    const text = `${where ? `${where}: ` : ""}${formatPath(path)}: ${message}`;
    throw new ConfigError(text, hint === undefined ? undefined : { hint });
  }

  value(field: Field, raw: unknown, path: KeyPath): unknown {
    switch (field.type) {
      case "string":
      case "path": {
        if (typeof raw === "number" && field.type === "string") raw = String(raw);
        if (typeof raw !== "string" || raw === "") {
          this.fail(
            path,
            `${
              field.type === "string" && field.secret ? "expected text" : show(raw) + " is not text"
            }`,
            `write a ${field.type === "path" ? "file path" : "string"}`,
          );
        }
        if (field.type === "string" && field.pattern && !field.pattern.test(raw)) {
          this.fail(path, `${field.secret ? "value" : show(raw)} is not valid`, field.hint);
        }
        return field.type === "string" && field.secret ? new Secret(raw) : raw;
      }
      case "duration": {
        const ms = typeof raw === "string" ? parseDuration(raw) : undefined;
        if (ms === undefined) {
          this.fail(path, `${show(raw)} is not a duration`, "use 500ms, 10s, 5m, 1h");
        }
        if (field.min !== undefined && ms < field.min) {
          this.fail(path, `${show(raw)} is too short`, `use at least ${formatDuration(field.min)}`);
        }
        if (field.max !== undefined && ms > field.max) {
          this.fail(path, `${show(raw)} is too long`, `use at most ${formatDuration(field.max)}`);
        }
        return ms;
      }
      case "int": {
        const n = typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
        if (typeof n !== "number" || !Number.isSafeInteger(n)) {
          this.fail(path, `${show(raw)} is not an integer`);
        }
        if (field.min !== undefined && n < field.min) this.fail(path, `${n} is below ${field.min}`);
        if (field.max !== undefined && n > field.max) this.fail(path, `${n} is above ${field.max}`);
        return n;
      }
      case "number": {
        if (typeof raw !== "number" || !Number.isFinite(raw)) {
          this.fail(path, `${show(raw)} is not a number`);
        }
        return raw;
      }
      case "bytes": {
        const n = typeof raw === "string" || typeof raw === "number"
          ? parseByteSize(raw)
          : undefined;
        if (n === undefined) {
          this.fail(path, `${show(raw)} is not a size`, "use 4096, 512KiB, 64MiB");
        }
        if (field.min !== undefined && n < field.min) {
          this.fail(path, `${show(raw)} is too small`, `use at least ${formatByteSize(field.min)}`);
        }
        if (field.max !== undefined && n > field.max) {
          this.fail(path, `${show(raw)} is too large`, `use at most ${formatByteSize(field.max)}`);
        }
        return n;
      }
      case "bool":
        if (typeof raw !== "boolean") this.fail(path, `${show(raw)} is not true or false`);
        return raw;
      case "enum":
        if (typeof raw !== "string" || !field.values.includes(raw)) {
          this.fail(path, `${show(raw)} is not one of ${field.values.join(", ")}`);
        }
        return raw;
      case "strings": {
        if (!Array.isArray(raw) || raw.some((s) => typeof s !== "string" || s === "")) {
          this.fail(
            path,
            `${show(raw)} is not a list of strings`,
            'write e.g. ["/usr/bin/vcgencmd", "measure_temp"]',
          );
        }
        if (field.minItems !== undefined && raw.length < field.minItems) {
          this.fail(
            path,
            `needs at least ${field.minItems} item${field.minItems === 1 ? "" : "s"}`,
          );
        }
        return [...raw];
      }
      case "any":
        return raw;
      case "object":
        return this.object(field, raw, path);
      case "list": {
        if (!Array.isArray(raw)) {
          this.fail(path, `${show(raw)} is not a list`, "write one '- ' entry per item");
        }
        return raw.map((item, i) => this.value(field.item, item, [...path, i]));
      }
      case "tagged": {
        if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
          this.fail(
            path,
            `${show(raw)} is not a mapping`,
            `write "${field.tag}: ..." and its options`,
          );
        }
        const tag = (raw as Record<string, unknown>)[field.tag];
        const names = Object.keys(field.variants);
        if (tag === undefined) {
          this.fail(path, `"${field.tag}" is missing`, `use one of ${names.join(", ")}`);
        }
        if (typeof tag !== "string" || !Object.hasOwn(field.variants, tag)) {
          this.fail(
            [...path, field.tag],
            `${show(tag)} is not known`,
            `use one of ${names.join(", ")}`,
          );
        }
        const rest = { ...(raw as Record<string, unknown>) };
        delete rest[field.tag];
        return { [field.tag]: tag, ...this.object(field.variants[tag], rest, path) };
      }
    }
  }

  object(field: ObjectField, raw: unknown, path: KeyPath): Record<string, unknown> {
    if (raw === undefined || raw === null) raw = {};
    if (typeof raw !== "object" || Array.isArray(raw)) {
      this.fail(path, `${show(raw)} is not a mapping`, "write key: value lines indented under it");
    }
    const input = raw as Record<string, unknown>;
    for (const key of Object.keys(input)) {
      if (!Object.hasOwn(field.fields, key)) {
        const known = Object.keys(field.fields);
        const near = nearKey(key, known);
        this.fail(
          [...path, key],
          "unknown key",
          near ? `did you mean "${near}"?` : `known keys here: ${known.join(", ")}`,
        );
      }
    }
    for (const key of field.required ?? []) {
      if (input[key] === undefined || input[key] === null) this.fail([...path, key], "is required");
    }
    const out: Record<string, unknown> = {};
    for (const [key, sub] of Object.entries(field.fields)) {
      const value = input[key];
      if (value === undefined || value === null) {
        if ("default" in sub && sub.default !== undefined) {
          out[key] = structuredClone(sub.default);
        } else if (sub.type === "object" && sub.always) {
          out[key] = this.object(sub, {}, [...path, key]);
        }
        continue;
      }
      out[key] = this.value(sub, value, [...path, key]);
    }
    return out;
  }
}

/**
 * Validates `raw` against `schema`, filling defaults. Throws ConfigError
 * naming the key path (and `locate`'s file:line) of the first problem.
 */
export function validate(
  schema: ObjectField,
  raw: unknown,
  locate: Locate = () => undefined,
): Record<string, unknown> {
  return new Validator(locate).object(schema, raw, []);
}

/** Renders validated config back to plain data: durations as text, secrets redacted. */
export function render(field: Field, value: unknown): unknown {
  if (value === undefined) return undefined;
  if (value instanceof Secret) return String(value);
  switch (field.type) {
    case "duration":
      return formatDuration(value as number);
    case "bytes":
      return formatByteSize(value as number);
    case "object": {
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(field.fields)) {
        const v = render(sub, (value as Record<string, unknown>)[key]);
        if (v !== undefined) out[key] = v;
      }
      return out;
    }
    case "list":
      return (value as unknown[]).map((v) => render(field.item, v));
    case "tagged": {
      const tag = (value as Record<string, unknown>)[field.tag] as string;
      return {
        [field.tag]: tag,
        ...(render(field.variants[tag], value) as Record<string, unknown>),
      };
    }
    default:
      return value;
  }
}
