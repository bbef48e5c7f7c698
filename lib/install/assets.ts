/**
 * The files `leaf install` lays down, embedded as text imports so the
 * compiled binary carries them (no `--include` needed), and the paths they
 * go to. systemd/ in the repository is the single source of each file.
 *
 * @module
 */
import unit from "../../systemd/leaf.service" with { type: "text" };
import sysusers from "../../systemd/leaf.sysusers" with { type: "text" };
import configSkeleton from "../../systemd/leaf.yaml" with { type: "text" };

/** systemd/leaf.service. */
export const UNIT_TEXT: string = unit;
/** systemd/leaf.sysusers. */
export const SYSUSERS_TEXT: string = sysusers;
/** systemd/leaf.yaml: the commented config skeleton. */
export const CONFIG_SKELETON: string = configSkeleton;

/** Where each file goes on the device (absolute; `--root` is prepended). */
export const PATHS = {
  binary: "/usr/local/bin/leaf",
  previousBinary: "/usr/local/bin/leaf.prev",
  unit: "/etc/systemd/system/leaf.service",
  /** Made by `systemctl enable leaf`. */
  wantsLink: "/etc/systemd/system/multi-user.target.wants/leaf.service",
  sysusers: "/etc/sysusers.d/leaf.conf",
  configDir: "/etc/leaf",
  config: "/etc/leaf/leaf.yaml",
  credential: "/etc/leaf/connection-string",
  stateDir: "/var/lib/leaf",
  dropIns: "/etc/systemd/system/leaf.service.d",
} as const;

/** The CA line of the skeleton, replaced when `--ca` names another file. */
const CA_LINE = /^(\s*caCert:\s*)\S+/m;

/** The config skeleton with `gateway.caCert` set to `caPath` (when given). */
export function renderSkeleton(caPath?: string): string {
  if (caPath === undefined) return CONFIG_SKELETON;
  if (!CA_LINE.test(CONFIG_SKELETON)) throw new Error("systemd/leaf.yaml lost its caCert line");
  return CONFIG_SKELETON.replace(CA_LINE, (_, head) => `${head}${caPath}`);
}
