/**
 * `leaf version`: leaf's version, the Deno runtime it runs on and the target
 * triple (`aarch64-unknown-linux-gnu` on a 64-bit Raspberry Pi OS).
 *
 * @module
 */
import { EXIT } from "../errors.ts";
import { RELEASE_DATE, VERSION } from "../version.ts";
import { parse } from "./_args.ts";

/** Runs `leaf version [--json]`. */
export function main(args: string[]): Promise<number> {
  const { values } = parse("version", args, {
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(
      "Usage: leaf version [--json]\n\nPrint leaf's version, the Deno version and the target triple.",
    );
    return Promise.resolve(EXIT.ok);
  }
  const info = {
    leaf: VERSION,
    released: RELEASE_DATE,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    target: Deno.build.target,
  };
  if (values.json) console.log(JSON.stringify(info));
  else {console.log(
      `leaf ${info.leaf} (${info.released})\ndeno ${info.deno} (v8 ${info.v8})\ntarget ${info.target}`,
    );}
  return Promise.resolve(EXIT.ok);
}
