/**
 * Small helpers the sysfs drivers share: paths under a root, listing the
 * entries of a class or bus folder that match a pattern (sysfs class entries
 * are symlinks, so the entry type is not checked), reading trimmed text,
 * parsing numbers, classifying read errors, and the options every sysfs
 * driver takes. Finding a device by name is in `_find.ts`.
 *
 * Listing at start is synchronous because {@linkcode createSensors} is; reads
 * during the run are asynchronous.
 *
 * @module
 */
/** Reads a whole text file; the drivers take one so tests can inject read errors. */
export type ReadText = (path: string) => Promise<string>;

/** The default {@linkcode ReadText}. */
export const readTextFile: ReadText = (path: string): Promise<string> => Deno.readTextFile(path);

/** Options every sysfs driver (thermal, hwmon, iio, w1) takes. */
export interface SysfsOptions {
  /** Label used in messages and as the readings' `sensor`. @default the name looked for */
  name?: string;
  /** Root of sysfs. @default "/sys" */
  sysfsRoot?: string;
  /** Reads a file (a seam for tests: a DHT11's EIO cannot live in a fixture file). @default Deno.readTextFile */
  readText?: ReadText;
}

/** Defaults of {@linkcode SysfsOptions}. */
export const SYSFS_DEFAULTS = { sysfsRoot: "/sys" };

/** Joins a root and parts without doubling slashes: `("/sys/", "class")` → `/sys/class`. */
export function under(root: string, ...parts: string[]): string {
  const base = root === "/" ? "" : root.replace(/\/+$/, "");
  return [base, ...parts.map((p) => p.replace(/^\/+|\/+$/g, ""))].join("/");
}

/** Orders `hwmon2` before `hwmon10` (a trailing index compares as a number). */
export function naturalCompare(a: string, b: string): number {
  const x = /^(.*?)(\d+)$/.exec(a);
  const y = /^(.*?)(\d+)$/.exec(b);
  if (x && y && x[1] === y[1]) return Number(x[2]) - Number(y[2]);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Entry names in `dir` matching `pattern`, naturally sorted; undefined when `dir` is missing. */
export function listSync(dir: string, pattern: RegExp): string[] | undefined {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => pattern.test(n))
      .sort(naturalCompare);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw error;
  }
}

/** Async {@linkcode listSync}. */
export async function list(dir: string, pattern: RegExp): Promise<string[] | undefined> {
  try {
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) if (pattern.test(e.name)) names.push(e.name);
    return names.sort(naturalCompare);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw error;
  }
}

/** A file's text, trimmed; undefined when it does not exist or cannot be read. */
export function readTrimmedSync(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) throw error;
    return undefined;
  }
}

/** Parses a decimal number the way sysfs prints them (`48686`, `-4368`, `100.869140625`). */
export function parseNumber(text: string, where: string): number {
  const t = text.trim();
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) {
    throw new Error(`${where}: expected a number, found ${JSON.stringify(t.slice(0, 40))}`);
  }
  return Number(t);
}

/** Removes float noise from unit conversions: 1008.6914062499999 → 1008.69140625. */
export function tidy(value: number): number {
  return Number(value.toPrecision(12));
}

/** Linux errno numbers of the read errors the drivers tell apart (arm64 and x86-64 agree). */
const ERRNO_NAMES: Record<number, string> = {
  5: "EIO",
  11: "EAGAIN",
  61: "ENODATA",
  110: "ETIMEDOUT",
};

/**
 * The errno name of an I/O error (`EIO`, `ENODATA`, ...), when known: from
 * Deno's error class, its `code`, or the `(os error N)` in its message.
 */
export function errnoOf(error: unknown): string | undefined {
  if (error instanceof Deno.errors.TimedOut) return "ETIMEDOUT";
  if (error instanceof Deno.errors.WouldBlock) return "EAGAIN";
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
  const m = /\bos error (\d+)\b/.exec(String((error as Error | null)?.message ?? ""));
  return m ? ERRNO_NAMES[Number(m[1])] : undefined;
}

/**
 * Read errors that mean "no sample this time" rather than "sensor broken":
 * DHT11 checksum or timing failures (EIO, ETIMEDOUT), a disabled hwmon
 * channel (ENODATA), a busy bus (EAGAIN).
 */
export function isSkippedSample(error: unknown): boolean {
  const errno = errnoOf(error);
  return errno === "EIO" || errno === "ETIMEDOUT" || errno === "EAGAIN" || errno === "ENODATA";
}

/** Hint for a permission failure on /sys or /proc. */
export const ALLOW_ALL_HINT =
  "Deno reads /sys and /proc only with --allow-all: run leaf from source with `deno run -A` (the compiled leaf binary has every permission)";

/**
 * Reads from a device folder found at start; when the folder has gone (the
 * driver was reloaded and renumbered), looks the device up again by name
 * once, and throws `gone` when it is not there any more.
 */
export async function readWithRelookup<T>(
  state: { dir: string },
  read: (dir: string) => Promise<T>,
  lookup: () => Promise<string | undefined>,
  gone: () => string,
): Promise<T> {
  try {
    return await read(state.dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    const dir = await lookup().catch(() => undefined);
    if (dir === undefined || dir === state.dir) throw new Error(gone(), { cause: error });
    state.dir = dir;
    return await read(dir);
  }
}
