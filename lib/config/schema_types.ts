/**
 * The declarative schema language leaf's config is written in: each field
 * knows its type, default and how to print itself, so validation, defaults,
 * errors with key paths and the redacted effective config come from one
 * table (see `schema.ts`).
 *
 * @module
 */

/** One field of the schema. */
export type Field =
  | {
    type: "string";
    doc: string;
    default?: string;
    secret?: boolean;
    pattern?: RegExp;
    hint?: string;
  }
  | { type: "path"; doc: string; default?: string }
  | { type: "duration"; doc: string; default?: number; min?: number; max?: number }
  | { type: "int"; doc: string; default?: number; min?: number; max?: number }
  | { type: "number"; doc: string; default?: number }
  | { type: "bytes"; doc: string; default?: number; min?: number; max?: number }
  | { type: "bool"; doc: string; default?: boolean }
  | { type: "enum"; doc: string; values: readonly string[]; default?: string }
  | { type: "strings"; doc: string; minItems?: number }
  | { type: "any"; doc: string }
  | ObjectField
  | { type: "list"; doc: string; item: Field; default?: unknown[] }
  | { type: "tagged"; doc: string; tag: string; variants: Record<string, ObjectField> };

/** An object with known keys; unknown keys are an error. */
export interface ObjectField {
  type: "object";
  doc: string;
  fields: Record<string, Field>;
  /** Keys that must be present. */
  required?: string[];
  /** Present (with defaults filled) even when absent in the file. */
  always?: boolean;
}
