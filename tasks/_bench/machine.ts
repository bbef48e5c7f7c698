/**
 * What the figures were measured on: CPU, cores, memory, kernel, and the
 * versions of every runtime and client in the race.
 *
 * @module
 */
import type { SdkInstall } from "./sdk.ts";

/** Machine and software description stored with the results. */
export interface MachineInfo {
  date: string;
  cpuModel: string;
  cores: number;
  memTotalMiB: number;
  kernel: string;
  os: string;
  deno: string;
  v8: string;
  node: string;
  mosquitto: string;
  /** azure-iot-device, azure-iot-device-mqtt and the mqtt.js they use. */
  sdk: Record<string, string>;
  /** mqtt.js under Deno (leaf's and the raw contender's). */
  mqttjs: string;
  git: string;
}

async function output(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    return new TextDecoder().decode(out.stdout).trim();
  } catch {
    return "unknown";
  }
}

/** Collects {@linkcode MachineInfo}. */
export async function machineInfo(root: string, sdk: SdkInstall): Promise<MachineInfo> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const denoJson = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
  const commit = await output("git", ["-C", root, "rev-parse", "--short", "HEAD"]);
  const dirty = await output("git", ["-C", root, "status", "--porcelain", "--untracked-files=no"]);
  return {
    date: new Date().toISOString(),
    cpuModel: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? Deno.build.arch,
    cores: navigator.hardwareConcurrency,
    memTotalMiB: Math.round(Deno.systemMemoryInfo().total / 1024 / 1024),
    kernel: Deno.osRelease(),
    os: (await Deno.readTextFile("/etc/os-release").catch(() => ""))
      .match(/PRETTY_NAME="?([^"\n]*)/)?.[1] ?? Deno.build.os,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    node: sdk.nodeVersion,
    mosquitto: (await output("mosquitto", ["-h"])).split("\n")[0].replace(
      /^mosquitto (version )?/,
      "",
    ),
    sdk: sdk.versions,
    mqttjs: String(denoJson.imports?.mqtt ?? "unknown").replace(/^npm:mqtt@/, ""),
    git: dirty === "" ? commit : `${commit} (with uncommitted changes)`,
  };
}
