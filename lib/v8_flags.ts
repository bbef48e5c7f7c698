/**
 * V8 flags leaf ships with: the compiled binary bakes them in
 * (`deno compile --v8-flags`), and `deno task leaf`, the tests and the bench
 * run the source with the same ones, so what is measured is what ships.
 *
 * - `--optimize-for-size`: V8 favours a small heap over peak speed. Draining
 *   100 000 queued messages at full speed, `leaf run` peaked at ~145 MiB RSS
 *   without it and ~83 MiB with it (BENCHMARKS.md).
 * - `--max-semi-space-size=1`: a 1 MiB young generation; with the flag above
 *   it keeps the drain rate within ~15 % of the default while RSS stays low.
 */
export const V8_FLAGS: readonly string[] = ["--optimize-for-size", "--max-semi-space-size=1"];

/** The flags as one `deno` argument. */
export const V8_FLAGS_ARG = `--v8-flags=${V8_FLAGS.join(",")}`;
