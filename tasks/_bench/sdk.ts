/**
 * Installs the official Azure IoT device SDK for Node once, outside the
 * repository: `tasks/_bench/sdk/` (package.json, package-lock.json with the
 * whole tree pinned, and the driver `send.cjs`) is copied to
 * `$XDG_CACHE_HOME/leaf-bench/sdk` (default `~/.cache/leaf-bench/sdk`) and
 * `npm ci` runs there. Later runs reuse it while the lock file is unchanged.
 * Only the npm registry needs to be reachable.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The ready SDK project. */
export interface SdkInstall {
  /** Folder holding node_modules and send.cjs. */
  dir: string;
  /** Path of the driver script. */
  script: string;
  /** `node --version`. */
  nodeVersion: string;
  /** Installed versions, from node_modules. */
  versions: Record<string, string>;
}

const SOURCE = fileURLToPath(new URL("./sdk/", import.meta.url));
const FILES = ["package.json", "package-lock.json", "send.cjs"];
const STAMP = ".installed-lock";

/** The default cache folder. */
export function defaultSdkDir(): string {
  const base = Deno.env.get("XDG_CACHE_HOME") ?? join(Deno.env.get("HOME") ?? "/tmp", ".cache");
  return join(base, "leaf-bench", "sdk");
}

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  let out;
  try {
    out = await new Deno.Command(cmd, { args, ...(cwd ? { cwd } : {}) }).output();
  } catch (error) {
    throw new Error(`Cannot run "${cmd}": ${(error as Error).message}; install Node.js and npm`);
  }
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    throw new Error(
      `"${cmd} ${args.join(" ")}" failed (exit ${out.code}):\n${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return text.trim();
}

async function readOr(path: string, fallback: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return fallback;
  }
}

/**
 * Copies the project to `dir` and runs `npm ci` unless the installed lock file
 * is this one. The install happens in a staging folder renamed into place,
 * so two checkouts benchmarking at once do not half-install each other's.
 */
export async function ensureSdk(dir = defaultSdkDir()): Promise<SdkInstall> {
  const nodeVersion = await run("node", ["--version"]);
  const lock = await Deno.readTextFile(join(SOURCE, "package-lock.json"));
  const current = async () => await readOr(join(dir, STAMP), "") === lock;
  if (!await current()) {
    const staging = `${dir}.staging-${Deno.pid}`;
    await Deno.mkdir(staging, { recursive: true });
    try {
      for (const f of FILES) await Deno.copyFile(join(SOURCE, f), join(staging, f));
      console.error(`bench: installing azure-iot-device with npm ci in ${dir}`);
      await run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], staging);
      await Deno.writeTextFile(join(staging, STAMP), lock);
      if (!await current()) {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        await Deno.rename(staging, dir).catch(async (error) => {
          if (!await current()) throw error; // another run won the race: use its install
        });
      }
    } finally {
      await Deno.remove(staging, { recursive: true }).catch(() => {});
    }
  }
  // The driver may change without the lock changing.
  await Deno.copyFile(join(SOURCE, "send.cjs"), join(dir, "send.cjs"));
  const versions: Record<string, string> = {};
  for (const name of ["azure-iot-device", "azure-iot-device-mqtt", "mqtt"]) {
    const pkg = JSON.parse(await readOr(join(dir, "node_modules", name, "package.json"), "{}"));
    versions[name] = pkg.version ?? "missing";
  }
  return { dir, script: join(dir, "send.cjs"), nodeVersion, versions };
}
