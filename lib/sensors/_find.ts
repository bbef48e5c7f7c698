/**
 * How the sysfs drivers find their device by name: once at start, where a
 * missing device is a {@linkcode ConfigError} naming what was found, and
 * again during the run, when a renumbered device must be looked up anew.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { ALLOW_ALL_HINT, list, type ReadText } from "./_sysfs.ts";

/** Wraps a permission error met while looking for a device at start. */
export function startError(what: string, error: unknown): ConfigError {
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return new ConfigError(`cannot read ${what}: ${(error as Error).message}`, {
      hint: ALLOW_ALL_HINT,
      cause: error,
    });
  }
  return new ConfigError(`cannot read ${what}: ${(error as Error).message}`, { cause: error });
}

/** `(found: a, b)` / `(found: none)` / `(... does not exist)` for not-found messages. */
export function foundList(dir: string, found: string[] | undefined): string {
  if (found === undefined) return `(${dir} does not exist)`;
  return `(found: ${found.length > 0 ? found.join(", ") : "none"})`;
}

/** What {@linkcode findAtStart} looks for, where, and what it says when it is not there. */
export interface StartSearch<T, R> {
  /** The folder listed, named in messages: `/sys/class/hwmon`. */
  dir: string;
  /** Lists the devices in `dir`; undefined when `dir` is missing. */
  list: () => T[] | undefined;
  /** A device's name, as listed in the message's `(found: ...)`. */
  nameOf: (device: T) => string;
  /** The wanted device(s) among those listed; undefined when absent. May throw a ConfigError. */
  pick: (devices: T[]) => R | undefined;
  /** The start of the message: `no hwmon chip named "sht3x"`. */
  missing: string;
  /** What to do about it, given the names found (undefined when `dir` is missing). */
  hint: string | ((found: string[] | undefined) => string);
}

/**
 * Lists the devices at start and picks the wanted one; throws a ConfigError
 * when `dir` cannot be read, or `<missing> under <dir> (found: ...)` when
 * the device is not there.
 */
export function findAtStart<T, R>(search: StartSearch<T, R>): R {
  let devices: T[] | undefined;
  try {
    devices = search.list();
  } catch (error) {
    throw startError(search.dir, error);
  }
  const picked = devices === undefined ? undefined : search.pick(devices);
  if (picked !== undefined) return picked;
  const found = devices?.map(search.nameOf);
  const hint = typeof search.hint === "string" ? search.hint : search.hint(found);
  throw new ConfigError(`${search.missing} under ${search.dir} ${foundList(search.dir, found)}`, {
    hint,
  });
}

/**
 * The entries of `dir` matching `pattern`, in natural order, each with the
 * trimmed text of its `file` (`name`, `type`), undefined where that cannot
 * be read. Lazy: reading stops when the caller does.
 */
export async function* entriesWithText(
  dir: string,
  pattern: RegExp,
  file: string,
  read: ReadText,
): AsyncGenerator<{ dir: string; text: string | undefined }> {
  for (const entry of (await list(dir, pattern)) ?? []) {
    const text = await read(`${dir}/${entry}/${file}`).then((s) => s.trim(), () => undefined);
    yield { dir: `${dir}/${entry}`, text };
  }
}

/** The folder of the first entry of `dir` matching `pattern` whose `file` reads `wanted`. */
export async function findEntry(
  dir: string,
  pattern: RegExp,
  file: string,
  wanted: string,
  read: ReadText,
): Promise<string | undefined> {
  for await (const e of entriesWithText(dir, pattern, file, read)) {
    if (e.text === wanted) return e.dir;
  }
  return undefined;
}
