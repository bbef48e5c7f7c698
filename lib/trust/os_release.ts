/**
 * `/etc/os-release` (os-release(5)): which Linux distribution this is, which
 * family of trust-store tools it uses, and that family's layout: where local
 * CA anchors go, which bundle the tool writes and how the tool is run.
 *
 * A `root` other than `/` maps every path under it (tests, image staging).
 * Only Debian's `update-ca-certificates` takes options for such a tree; the
 * other tools are then left for the user to run inside it.
 *
 * @example
 * ```ts
 * const distro = detectDistro(parseOsRelease("ID=raspbian\nID_LIKE=debian\n"));
 * console.log(storeLayout(distro.family!).anchorsDir); // /usr/local/share/ca-certificates
 * ```
 *
 * @module
 */
import { join, resolve } from "node:path";
import { ConfigError } from "../errors.ts";

/** How a distribution manages its CA trust store. */
export type TrustFamily = "debian" | "alpine" | "fedora" | "suse";

/** A distribution as identified by {@linkcode detectDistro}. */
export interface Distro {
  /** `ID`, lowercased, e.g. `ubuntu`; `linux` when the file has none (os-release(5) default). */
  id: string;
  /** `PRETTY_NAME`, else `NAME`, else the id, e.g. `Debian GNU/Linux 12 (bookworm)`. */
  name: string;
  /** The trust-store family, or undefined when leaf does not know it. */
  family?: TrustFamily;
}

/** Where os-release(5) says to look, in order. */
export const OS_RELEASE_PATHS = ["/etc/os-release", "/usr/lib/os-release"];

/** IDs (and ID_LIKE words) of each family. */
const FAMILIES: [TrustFamily, RegExp][] = [
  ["debian", /^(debian|ubuntu|raspbian)$/],
  ["alpine", /^alpine$/],
  ["fedora", /^(fedora|rhel|centos|rocky|almalinux)$/],
  ["suse", /^(suse|opensuse.*|sles|sled|sle-micro)$/],
];

/**
 * Parses os-release text into its variables: `KEY=value` lines, values
 * optionally in double or single quotes, with `\"`, `\\`, `` \` `` and `\$`
 * unescaped inside double quotes. Comments, blank and malformed lines are skipped.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    let value = match[2];
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(["\\`$])/g, "$1");
    } else if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) {
      value = value.slice(1, -1);
    }
    vars[match[1]] = value;
  }
  return vars;
}

/** Identifies the distribution and its trust family from `ID`, then each `ID_LIKE` word. */
export function detectDistro(vars: Record<string, string>): Distro {
  const id = (vars.ID ?? "").trim().toLowerCase() || "linux";
  const like = (vars.ID_LIKE ?? "").toLowerCase().split(/\s+/).filter(Boolean);
  const name = vars.PRETTY_NAME || vars.NAME || id;
  for (const candidate of [id, ...like]) {
    const found = FAMILIES.find(([, pattern]) => pattern.test(candidate));
    if (found) return { id, name, family: found[0] };
  }
  return { id, name };
}

/**
 * Reads the distribution of the tree at `root` (`etc/os-release`, else
 * `usr/lib/os-release`), or of `file` when given. Resolves to undefined when
 * neither default file exists; a named `file` that cannot be read throws.
 */
export async function readDistro(root = "/", file?: string): Promise<Distro | undefined> {
  const candidates = file ?? OS_RELEASE_PATHS.map((p) => join(resolve(root), p));
  for (const path of typeof candidates === "string" ? [candidates] : candidates) {
    try {
      return detectDistro(parseOsRelease(await Deno.readTextFile(path)));
    } catch (cause) {
      if (file === undefined && cause instanceof Deno.errors.NotFound) continue;
      const reason = cause instanceof Error ? cause.message.replace(/ \(os error.*$/s, "") : "";
      throw new ConfigError(`Cannot read "${path}" (${reason})`, {
        cause,
        hint: "point it at an os-release(5) file",
      });
    }
  }
  return undefined;
}

/** Where a trust family keeps anchors and how its bundle is rebuilt, with paths under `root`. */
export interface StoreLayout {
  family: TrustFamily;
  /** The tree the paths are in; `/` for the running system. */
  root: string;
  /** The folder leaf writes `NAME.crt` into. */
  anchorsDir: string;
  /** The bundle the tool writes (what `status` looks into). */
  bundle: string;
  /** Rebuilds the store after an anchor was added. */
  update: string[];
  /** Rebuilds the store after an anchor was removed or its content replaced. */
  updateAfterChange: string[];
  /** Whether `update` may run here; false under a root its tool cannot be pointed at. */
  runnable: boolean;
}

const FAMILY_LAYOUT: Record<TrustFamily, { anchors: string; bundle: string; tool: string[] }> = {
  debian: {
    anchors: "/usr/local/share/ca-certificates",
    bundle: "/etc/ssl/certs/ca-certificates.crt",
    tool: ["update-ca-certificates"],
  },
  alpine: {
    anchors: "/usr/local/share/ca-certificates",
    bundle: "/etc/ssl/certs/ca-certificates.crt",
    tool: ["update-ca-certificates"],
  },
  fedora: {
    anchors: "/etc/pki/ca-trust/source/anchors",
    bundle: "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    tool: ["update-ca-trust", "extract"],
  },
  suse: {
    anchors: "/etc/pki/trust/anchors",
    bundle: "/var/lib/ca-certificates/ca-bundle.pem",
    tool: ["update-ca-certificates"],
  },
};

/** The store layout of `family`, every path mapped under `root` (default `/`). */
export function storeLayout(family: TrustFamily, root = "/"): StoreLayout {
  const base = FAMILY_LAYOUT[family];
  const top = resolve(root);
  const at = (path: string) => join(top, path);
  let options: string[] = [];
  // Debian's script reads and writes only these paths (and TMPDIR), so a tree can stand in.
  if (family === "debian" && top !== "/") {
    options = [
      ["--certsconf", "/etc/ca-certificates.conf"],
      ["--certsdir", "/usr/share/ca-certificates"],
      ["--localcertsdir", "/usr/local/share/ca-certificates"],
      ["--etccertsdir", "/etc/ssl/certs"],
      ["--hooksdir", "/etc/ca-certificates/update.d"],
    ].flatMap(([flag, path]) => [flag, at(path)]);
  }
  const update = [...base.tool, ...options];
  return {
    family,
    root: top,
    anchorsDir: at(base.anchors),
    bundle: at(base.bundle),
    update,
    // Debian's script relinks (and rehashes) only new names: a removed or
    // rewritten file leaves stale links unless the run is --fresh.
    updateAfterChange: family === "debian" ? [base.tool[0], "--fresh", ...options] : update,
    runnable: top === "/" || family === "debian",
  };
}
