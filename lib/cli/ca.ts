/**
 * `leaf ca install | remove | status`: put the gateway's root CA into the OS
 * trust store (so curl, openssl and other tools trust the gateway too), take
 * it out again, or say whether it is there.
 *
 * @example
 * ```sh
 * sudo leaf ca install --ca certs/azure-iot-test-only.root.ca.cert.pem
 * leaf ca status --ca certs/azure-iot-test-only.root.ca.cert.pem
 * ```
 *
 * @module
 */
import { quoteArg } from "../log.ts";
import { X509Certificate } from "node:crypto";
import { resolve } from "node:path";
import { ConfigError, EXIT, UsageError } from "../errors.ts";
import { loadConfig } from "../config/load.ts";
import { describeCertificate, encodePem, loadCaFile } from "../trust/pem.ts";
import { type Distro, readDistro, type StoreLayout, storeLayout } from "../trust/os_release.ts";
import {
  type Anchor,
  applyPlan,
  bundleContains,
  describeAnchor,
  describeStep,
  inspectStore,
  type Plan,
  planInstall,
  planRemove,
  type StoreState,
  type ToolRun,
} from "../trust/store.ts";
import { parse } from "./_args.ts";

const HELP = `Usage: leaf ca install | remove | status [options]

install  copies the gateway's root CA into the OS trust store as NAME.crt and
         runs the store's update tool; does nothing when it is already there
remove   deletes that file (only if it holds this CA) and runs the tool again
status   shows whether it is installed: exit 0 when it is, 1 when not

Debian, Ubuntu, Raspberry Pi OS and Alpine use /usr/local/share/ca-certificates
and update-ca-certificates; Fedora, RHEL, CentOS, Rocky and Alma use
/etc/pki/ca-trust/source/anchors and update-ca-trust; openSUSE and SLES use
/etc/pki/trust/anchors and update-ca-certificates. install and remove need root.

Options:
  --ca FILE      the root CA, e.g. azure-iot-test-only.root.ca.cert.pem
                 (default: $IOTEDGE_ROOT_CA_CERT_PATH, else gateway.caCert of the config)
  --config FILE  config file to read gateway.caCert from
  --name NAME    file name in the trust store, without .crt (default leaf-gateway-root)
  --dry-run      print the file operations and commands; change nothing
  --root DIR     work on the trust store of the tree at DIR instead of this system's
                 (a testing and image-building aid: needs no root; only Debian's
                 update-ca-certificates can be pointed at DIR, and the links it
                 makes there point into DIR; other tools are listed for you to
                 run inside the tree, e.g. with chroot)
  -h, --help     show this help`;

const OPTIONS = {
  ca: { type: "string" },
  config: { type: "string" },
  name: { type: "string" },
  "dry-run": { type: "boolean" },
  root: { type: "string" },
  // Hidden: read this os-release file instead of the system's (tests, support).
  "os-release": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** `status` exit code when the CA is not installed (a result, not a failure). */
const NOT_INSTALLED = 1;
const ROOT_FILE = "azure-iot-test-only.root.ca.cert.pem";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Runs `leaf ca <subcommand>`; resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parse("ca", args, OPTIONS, true);
  if (values.help) {
    console.log(HELP);
    return EXIT.ok;
  }
  const [sub, ...extra] = positionals;
  if (sub !== "install" && sub !== "remove" && sub !== "status") {
    throw new UsageError(
      sub === undefined ? "leaf ca needs a subcommand" : `Unknown subcommand "ca ${sub}"`,
      { hint: "use `leaf ca install`, `leaf ca remove` or `leaf ca status`" },
    );
  }
  if (extra.length > 0) {
    throw new UsageError(`Unexpected argument ${quoteArg(extra[0], "argument")} for \`leaf ca\``);
  }
  const name = anchorName(values.name);
  const anchor = await loadAnchor(await caPath(values.ca, values.config));
  const root = values.root === undefined ? "/" : await treeRoot(values.root);
  const distro = await readDistro(root, values["os-release"]);
  if (distro?.family === undefined) throw unsupported(distro, anchor.source, name);
  const layout = storeLayout(distro.family, root);
  const state = await inspectStore(layout, name, anchor);
  if (sub === "status") return status(layout, state, anchor);
  const dryRun = values["dry-run"] === true;
  if (lacksRoot({ dryRun, root, uid: Deno.uid() })) {
    throw new UsageError(`\`leaf ca ${sub}\` changes the system trust store and needs root`, {
      hint: `run it with sudo, or add --dry-run to see what it would do`,
    });
  }
  const plan = sub === "install"
    ? planInstall(layout, state, anchor)
    : planRemove(layout, state, anchor);
  if (plan.steps.length === 0) {
    const line = nothingToDo(plan, anchor);
    console.log(dryRun ? `Dry run: ${line[0].toLowerCase()}${line.slice(1)}` : line);
  } else if (dryRun) {
    console.log(`Dry run, nothing is changed. On ${distro.name}, \`leaf ca ${sub}\` would:`);
    for (const step of plan.steps) console.log(`  ${describeStep(step)}`);
  } else {
    const runs = await applyPlan(plan);
    report(plan, state, anchor, runs);
    await checkBundle(layout, anchor, plan, runs);
  }
  return EXIT.ok;
}

/** Whether a change must be refused: the running system's store, for real, without root. */
function lacksRoot(options: { dryRun: boolean; root: string; uid: number | null }): boolean {
  return !options.dryRun && options.root === "/" && options.uid !== 0;
}

/** `--name`, with a `.crt`/`.pem` suffix dropped; must be a plain file name. */
function anchorName(value = "leaf-gateway-root"): string {
  const name = value.replace(/\.(crt|pem)$/i, "");
  if (!NAME.test(name)) {
    throw new UsageError(`--name "${value}" is not a safe file name`, {
      hint: "use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    });
  }
  return name;
}

async function caPath(flag: string | undefined, config: string | undefined): Promise<string> {
  if (flag !== undefined) return flag;
  const { config: loaded } = await loadConfig(config === undefined ? {} : { config });
  if (loaded.gateway.caCert !== undefined) return loaded.gateway.caCert;
  throw new UsageError("No CA file given", {
    hint: `pass --ca FILE with the gateway's root CA, e.g. --ca certs/${ROOT_FILE}`,
  });
}

async function treeRoot(dir: string): Promise<string> {
  const path = resolve(dir);
  const isDir = await Deno.stat(path).then((s) => s.isDirectory, () => false);
  if (!isDir) throw new UsageError(`--root "${dir}" is not a directory`);
  return path;
}

/** Reads the CA file and refuses anything but one CA certificate, naming the file to use. */
async function loadAnchor(path: string): Promise<Anchor> {
  const ca = await loadCaFile(path, "CA file");
  const label = `CA file "${path}"`;
  if (ca.certs.length > 1) {
    const roots = ca.certs.filter((x) => x.ca && x.checkIssued(x));
    const which = roots.length === 1 ? ` (here "${describeCertificate(roots[0]).subject}")` : "";
    throw new ConfigError(`${label} holds ${ca.certs.length} certificates, not one`, {
      hint: `a trust store takes one CA per file: use the root CA${which} alone, e.g. ${ROOT_FILE}`,
    });
  }
  const cert = ca.certs[0];
  const der = new Uint8Array(cert.raw);
  const info = describeCertificate(cert);
  if (!info.isCa) {
    const kind = hasExtendedKeyUsage(der, 1)
      ? "a server certificate"
      : hasExtendedKeyUsage(der, 2)
      ? "a device (client) certificate"
      : "not a CA";
    throw new ConfigError(`${label} holds "${info.subject}", which is not a CA (CA:FALSE)`, {
      hint: `this is ${kind}; use the root CA, e.g. ${ROOT_FILE}`,
    });
  }
  if (info.notAfter < new Date()) {
    console.error(`leaf: warning: ${label} expired on ${info.notAfter.toISOString()}`);
  }
  if (!cert.checkIssued(cert)) {
    console.error(
      `leaf: warning: ${label} is an intermediate CA (issued by "${info.issuer}"): ` +
        `clients that need a self-signed root will not trust it alone; prefer the root, e.g. ${ROOT_FILE}`,
    );
  }
  return {
    der,
    pem: encodePem("CERTIFICATE", der),
    description: describeAnchor(der),
    source: path,
  };
}

/**
 * Whether the certificate's extendedKeyUsage lists id-kp-`purpose` (1 serverAuth,
 * 2 clientAuth). Deno's `X509Certificate.keyUsage` lists key usages, not these.
 */
function hasExtendedKeyUsage(der: Uint8Array, purpose: 1 | 2): boolean {
  const find = (bytes: number[], from = 0) => {
    for (let i = from; i + bytes.length <= der.length; i++) {
      if (bytes.every((b, j) => der[i + j] === b)) return i;
    }
    return -1;
  };
  const extension = find([0x06, 0x03, 0x55, 0x1d, 0x25]); // OID 2.5.29.37
  const kp = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, purpose]; // 1.3.6.1.5.5.7.3.n
  return extension >= 0 && find(kp, extension) >= 0;
}

function unsupported(distro: Distro | undefined, source: string, name: string): ConfigError {
  const what = distro === undefined
    ? "Cannot tell the distribution (no /etc/os-release or /usr/lib/os-release)"
    : `Unsupported distribution "${distro.id}" (${distro.name})`;
  const known =
    "Debian, Ubuntu, Raspberry Pi OS, Alpine, Fedora, RHEL, CentOS, Rocky, Alma, openSUSE, SLES";
  return new ConfigError(`${what}; leaf ca knows ${known}`, {
    hint:
      `install it by hand: copy "${source}" as ${name}.crt into the system's CA anchors folder ` +
      "and run its trust store update tool (e.g. update-ca-certificates or update-ca-trust)",
  });
}

function nothingToDo(plan: Plan, anchor: Anchor): string {
  return plan.outcome === "already"
    ? `Already installed: ${plan.target} holds ${anchor.description}; nothing to do`
    : `Not installed: ${plan.target} does not exist; nothing to do`;
}

function report(plan: Plan, state: StoreState, anchor: Anchor, runs: ToolRun[]): void {
  const lines = {
    install: `Installed ${anchor.description} as ${plan.target}`,
    replace:
      `Replaced ${plan.target}: it held ${state.existingDescription}, now ${anchor.description}`,
    refresh:
      `${plan.target} already holds ${anchor.description}; rebuilt the bundle, which lacked it`,
    remove: `Removed ${plan.target}, which held ${anchor.description}`,
  } as Record<Plan["outcome"], string>;
  console.log(lines[plan.outcome]);
  for (const run of runs) {
    const mapped = run.argv.indexOf("--certsconf"); // the --root options: long and known
    const shown = mapped < 0 ? run.argv : run.argv.slice(0, mapped);
    const summary = run.summary
      ? `${run.summary.added} added, ${run.summary.removed} removed`
      : "done";
    const fresh = run.argv.includes("--fresh") ? " (a fresh run relinks every certificate)" : "";
    console.log(`${shown.join(" ")}: ${summary}${fresh}`);
  }
  for (const step of plan.steps) if (step.op === "defer") console.log(describeStep(step));
}

/** Warns when the bundle does not reflect what was just done. */
async function checkBundle(layout: StoreLayout, anchor: Anchor, plan: Plan, runs: ToolRun[]) {
  if (runs.length === 0) return;
  const has = await bundleContains(layout.bundle, anchor.der);
  const wanted = plan.outcome !== "remove";
  if (has !== wanted) {
    const why = has
      ? "still contains it: another file in the store holds the same certificate"
      : `does not contain it after ${runs[0].argv[0]}: check that tool's output and configuration`;
    console.error(`leaf: warning: "${layout.bundle}" ${why}`);
  }
}

function status(layout: StoreLayout, state: StoreState, anchor: Anchor): number {
  const installed = state.existing === "same";
  const inBundle = state.bundleHasAnchor ? "contains it" : "does not contain it";
  if (installed) {
    const info = describeCertificate(new X509Certificate(anchor.der));
    console.log(`Installed: ${state.target}`);
    console.log(`  subject:  ${info.subject}`);
    console.log(`  SHA-256:  ${info.sha256}`);
    console.log(`  expires:  ${info.notAfter.toISOString()}`);
  } else {
    const holds = state.existing === "absent"
      ? "does not exist"
      : `holds ${state.existingDescription}`;
    console.log(`Not installed: ${state.target} ${holds}`);
    console.log(`  wanted:   ${anchor.description} from "${anchor.source}"`);
  }
  console.log(`  bundle:   ${layout.bundle} ${inBundle}`);
  return installed ? EXIT.ok : NOT_INSTALLED;
}
