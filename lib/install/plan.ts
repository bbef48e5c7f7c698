/**
 * What `leaf install` lays down and `leaf uninstall` removes, as data: paths
 * on the device, modes, where each file's content comes from and whether an
 * existing file is replaced. Pure; lib/install/apply.ts does the I/O.
 *
 * | path                                | mode | policy                                 |
 * | ----------------------------------- | ---- | -------------------------------------- |
 * | /usr/local/bin/leaf                 | 0755 | replaced; the old one kept as leaf.prev |
 * | /etc/systemd/system/leaf.service    | 0644 | replaced                               |
 * | /etc/sysusers.d/leaf.conf           | 0644 | replaced                               |
 * | /etc/leaf/<CA file name> (`--ca`)   | 0644 | replaced                               |
 * | /etc/leaf/leaf.yaml                 | 0644 | created only; never overwritten        |
 * | /etc/leaf/connection-string         | 0600 | replaced when given                    |
 *
 * @module
 */
import { basename } from "node:path";
import type { Secret } from "../secret.ts";
import { PATHS, renderSkeleton, SYSUSERS_TEXT, UNIT_TEXT } from "./assets.ts";

/** Where a file's content comes from. */
export type Source =
  | { kind: "text"; text: string }
  | { kind: "secret"; secret: Secret }
  | { kind: "file"; path: string };

/** A file to lay down. */
export interface FileItem {
  kind: "file";
  /** Path on the device. */
  path: string;
  mode: number;
  source: Source;
  /**
   * `replace`: written when absent or different. `create`: written only when
   * absent. `binary`: replaced like `replace`, the old file kept as `.prev`.
   */
  policy: "replace" | "create" | "binary";
}

/** A directory that must exist (created with `mode` when missing; never changed). */
export interface DirItem {
  kind: "dir";
  path: string;
  mode: number;
}

/** One step of an install. */
export type Item = FileItem | DirItem;

/** Inputs of {@linkcode installPlan}. */
export interface InstallInputs {
  /** The leaf executable to install. */
  binary: string;
  /** The gateway root CA to copy into /etc/leaf/. */
  ca?: string;
  /** A prepared config for /etc/leaf/leaf.yaml (else the commented skeleton). */
  config?: string;
  /** The device connection string for the credential file. */
  connectionString?: Secret;
}

/** Device path of the CA file installed from `ca`. */
export function caPath(ca: string): string {
  return `${PATHS.configDir}/${basename(ca)}`;
}

/** The steps of `leaf install`, in order. */
export function installPlan(inputs: InstallInputs): Item[] {
  const dir = (path: string): DirItem => ({ kind: "dir", path, mode: 0o755 });
  const items: Item[] = [
    dir("/usr/local/bin"),
    {
      kind: "file",
      path: PATHS.binary,
      mode: 0o755,
      source: file(inputs.binary),
      policy: "binary",
    },
    dir("/etc/systemd/system"),
    { kind: "file", path: PATHS.unit, mode: 0o644, source: text(UNIT_TEXT), policy: "replace" },
    dir("/etc/sysusers.d"),
    {
      kind: "file",
      path: PATHS.sysusers,
      mode: 0o644,
      source: text(SYSUSERS_TEXT),
      policy: "replace",
    },
    dir(PATHS.configDir),
  ];
  if (inputs.ca !== undefined) {
    items.push({
      kind: "file",
      path: caPath(inputs.ca),
      mode: 0o644,
      source: file(inputs.ca),
      policy: "replace",
    });
  }
  items.push({
    kind: "file",
    path: PATHS.config,
    mode: 0o644,
    source: inputs.config !== undefined
      ? file(inputs.config)
      : text(renderSkeleton(inputs.ca === undefined ? undefined : caPath(inputs.ca))),
    policy: "create",
  });
  if (inputs.connectionString !== undefined) {
    items.push({
      kind: "file",
      path: PATHS.credential,
      mode: 0o600,
      source: { kind: "secret", secret: inputs.connectionString },
      policy: "replace",
    });
  }
  return items;
}

/**
 * Paths `leaf uninstall` removes: the program, its unit (and the symlink
 * `systemctl enable` made), the sysusers snippet; with `purge`, /etc/leaf too.
 */
export function uninstallPlan(purge: boolean): string[] {
  const paths: string[] = [
    PATHS.binary,
    PATHS.previousBinary,
    PATHS.wantsLink,
    PATHS.unit,
    PATHS.sysusers,
  ];
  if (purge) paths.push(PATHS.configDir);
  return paths;
}

function text(value: string): Source {
  return { kind: "text", text: value };
}

function file(path: string): Source {
  return { kind: "file", path };
}
