/**
 * The OS trust store: plans to install or remove one CA anchor, and a small
 * executor for them.
 *
 * Planning is pure ({@linkcode planInstall}, {@linkcode planRemove} take the
 * state {@linkcode inspectStore} read); {@linkcode applyPlan} carries a plan
 * out with file operations and `Deno.Command`. Where each distribution keeps
 * anchors, and which tool rebuilds its bundle, is `storeLayout` in
 * `os_release.ts`.
 *
 * @example
 * ```ts
 * const layout = storeLayout("debian");
 * const state = await inspectStore(layout, "leaf-gateway-root", anchor);
 * const results = await applyPlan(planInstall(layout, state, anchor));
 * ```
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import { dirname, join } from "node:path";
import { EXIT, LeafError } from "../errors.ts";
import { resolveProgram } from "../sensors/command.ts";
import type { StoreLayout } from "./os_release.ts";
import { describeCertificate, splitPem } from "./pem.ts";

/** The one certificate to put into the store. */
export interface Anchor {
  /** The certificate's DER. */
  der: Uint8Array;
  /** The certificate alone, as canonical PEM: what is written. */
  pem: string;
  /** For messages, e.g. `"CN=Azure_IoT_Hub_CA_Cert_Test_Only" (SHA-256 AB:CD:…)`. */
  description: string;
  /** The file it came from. */
  source: string;
}

/** `"CN=…" (SHA-256 AB:…)` for a certificate's DER. */
export function describeAnchor(der: Uint8Array): string {
  try {
    const info = describeCertificate(new X509Certificate(der));
    return `"${info.subject}" (SHA-256 ${info.sha256})`;
  } catch {
    return "a certificate that does not parse";
  }
}

/** What {@linkcode inspectStore} found for one anchor name. */
export interface StoreState {
  /** `anchorsDir/NAME.crt`. */
  target: string;
  /** Whether the target holds exactly the anchor, something else, or nothing. */
  existing: "absent" | "same" | "different";
  /** For `different`: what the target holds, e.g. `"CN=old" (SHA-256 AB:…)`. */
  existingDescription?: string;
  /** Whether the anchors folder exists. */
  anchorsDirExists: boolean;
  /** Whether the system bundle contains the anchor's certificate. */
  bundleHasAnchor: boolean;
}

/** Reads the target file and the bundle; changes nothing. */
export async function inspectStore(
  layout: StoreLayout,
  name: string,
  anchor: Anchor,
): Promise<StoreState> {
  const target = join(layout.anchorsDir, `${name}.crt`);
  const isDir = (s: Deno.FileInfo) => s.isDirectory;
  const anchorsDirExists = await Deno.stat(layout.anchorsDir).then(isDir, () => false);
  const bundleHasAnchor = await bundleContains(layout.bundle, anchor.der);
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(target);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { target, existing: "absent", anchorsDirExists, bundleHasAnchor };
    }
    throw storeError(`Cannot read "${target}"`, error);
  }
  let existingDescription = info.isSymlink ? "a symbolic link" : "something that is not a file";
  if (info.isFile) {
    const text = await Deno.readTextFile(target).catch((e) => {
      throw storeError(`Cannot read "${target}"`, e);
    });
    const blocks = pemBlocks(text);
    if (blocks.length === 1 && blocks[0].type === "CERTIFICATE") {
      if (sameBytes(blocks[0].der, anchor.der)) {
        return { target, existing: "same", anchorsDirExists, bundleHasAnchor };
      }
      existingDescription = describeAnchor(blocks[0].der);
    } else {
      existingDescription = `${blocks.length} PEM blocks, not one certificate`;
    }
  }
  return { target, existing: "different", existingDescription, anchorsDirExists, bundleHasAnchor };
}

/** Whether the PEM bundle at `path` holds a certificate with exactly this DER. */
export async function bundleContains(path: string, der: Uint8Array): Promise<boolean> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return pemBlocks(text).some((b) => b.type === "CERTIFICATE" && sameBytes(b.der, der));
}

/** One file operation or command of a {@linkcode Plan}. */
export type Step =
  | { op: "mkdir"; path: string }
  | { op: "write"; path: string; pem: string; note: string }
  | { op: "remove"; path: string }
  | { op: "run"; argv: string[] }
  | { op: "defer"; argv: string[]; root: string };

/** What `install` or `remove` will do, and why. */
export interface Plan {
  /** `install`/`replace`/`refresh`/`remove` change the store; `already`/`absent` do nothing. */
  outcome: "install" | "replace" | "refresh" | "already" | "remove" | "absent";
  /** `anchorsDir/NAME.crt`. */
  target: string;
  /** In order; empty when nothing needs doing. */
  steps: Step[];
}

/**
 * Plans `install`: write the anchor (replacing different content) and rebuild;
 * nothing when the same anchor is in place and the bundle has it (or the
 * bundle cannot be rebuilt here); only the rebuild when the bundle lacks it.
 */
export function planInstall(layout: StoreLayout, state: StoreState, anchor: Anchor): Plan {
  const { target } = state;
  if (state.existing === "same") {
    if (state.bundleHasAnchor || !layout.runnable) return { outcome: "already", target, steps: [] };
    return { outcome: "refresh", target, steps: [update(layout, layout.update)] };
  }
  const steps: Step[] = [];
  if (!state.anchorsDirExists) steps.push({ op: "mkdir", path: layout.anchorsDir });
  const note = `${anchor.description} from "${anchor.source}"`;
  steps.push({ op: "write", path: target, pem: anchor.pem, note });
  const replace = state.existing === "different";
  steps.push(update(layout, replace ? layout.updateAfterChange : layout.update));
  return { outcome: replace ? "replace" : "install", target, steps };
}

/**
 * Plans `remove`: delete the target only when it holds exactly the anchor, then
 * rebuild. Throws a one-line error (exit 2) when the target holds something else.
 */
export function planRemove(layout: StoreLayout, state: StoreState, anchor: Anchor): Plan {
  const { target } = state;
  if (state.existing === "absent") return { outcome: "absent", target, steps: [] };
  if (state.existing === "different") {
    throw new LeafError(
      `"${target}" holds ${state.existingDescription}, not ${anchor.description}: not removed`,
      EXIT.usage,
      "trust_store.not_ours",
      { hint: "pass --ca with the certificate it holds, or pick the right --name" },
    );
  }
  return {
    outcome: "remove",
    target,
    steps: [{ op: "remove", path: target }, update(layout, layout.updateAfterChange)],
  };
}

function update(layout: StoreLayout, argv: string[]): Step {
  return layout.runnable ? { op: "run", argv } : { op: "defer", argv, root: layout.root };
}

/** A step as one line: the command, or the file operation with its details. */
export function describeStep(step: Step): string {
  switch (step.op) {
    case "mkdir":
      return `mkdir -p -m 0755 ${step.path}`;
    case "write":
      return `write ${step.path} (mode 0644): ${step.note}`;
    case "remove":
      return `rm ${step.path}`;
    case "run":
      return step.argv.join(" ");
    case "defer":
      return `not run here: ${step.argv.join(" ")} (it cannot be pointed at ${step.root}; ` +
        `run it inside that tree, e.g. chroot ${step.root} ${step.argv.join(" ")})`;
  }
}

/** The outcome of one command run by {@linkcode applyPlan}. */
export interface ToolRun {
  argv: string[];
  stdout: string;
  stderr: string;
  /** Parsed from `update-ca-certificates` output ("1 added, 0 removed"); undefined for others. */
  summary?: { added: number; removed: number };
}

/** Options of {@linkcode applyPlan}. */
export interface ApplyOptions {
  /** Finds a tool's executable. @default `$PATH`, then /usr/local/sbin, /usr/sbin, /sbin */
  which?: (name: string) => string | undefined;
}

/** Carries out `plan.steps` in order; resolves to the commands' outputs. */
export async function applyPlan(plan: Plan, options: ApplyOptions = {}): Promise<ToolRun[]> {
  const which = options.which ?? defaultWhich;
  const runs: ToolRun[] = [];
  for (const step of plan.steps) {
    if (step.op === "mkdir") {
      await Deno.mkdir(step.path, { recursive: true, mode: 0o755 }).catch((e) => {
        throw storeError(`Cannot create "${step.path}"`, e);
      });
    } else if (step.op === "write") {
      await writeAtomically(step.path, step.pem);
    } else if (step.op === "remove") {
      await Deno.remove(step.path).catch((e) => {
        throw storeError(`Cannot remove "${step.path}"`, e);
      });
    } else if (step.op === "run") {
      runs.push(await runTool(step.argv, which));
    }
  }
  return runs;
}

/** `"3 added, 0 removed; done."` → `{ added: 3, removed: 0 }`; undefined when absent. */
export function parseUpdateSummary(output: string): { added: number; removed: number } | undefined {
  const match = /^(\d+) added, (\d+) removed/m.exec(output);
  return match ? { added: Number(match[1]), removed: Number(match[2]) } : undefined;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  // Not *.crt, so a concurrent update-ca-certificates never picks up a half-written file.
  const temp = join(dirname(path), `.${path.split("/").pop()}.leaf-tmp`);
  try {
    await Deno.writeTextFile(temp, text, { mode: 0o644 });
    await Deno.chmod(temp, 0o644);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw storeError(`Cannot write "${path}"`, error);
  }
}

async function runTool(argv: string[], which: (name: string) => string | undefined) {
  const [name, ...args] = argv;
  const program = which(name);
  if (program === undefined) {
    throw new LeafError(`"${name}" not found`, EXIT.usage, "trust_store.no_tool", {
      hint: "install the ca-certificates package (it provides the trust store tools)",
    });
  }
  const command = new Deno.Command(program, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const out = await command.output();
  const [stdout, stderr] = [out.stdout, out.stderr].map((b) => new TextDecoder().decode(b));
  if (!out.success) {
    const last = (stderr.trim() || stdout.trim()).split("\n").pop() || "no output";
    throw new LeafError(
      `"${argv.join(" ")}" failed (exit ${out.code}): ${last}`,
      EXIT.usage,
      "trust_store.tool_failed",
      { hint: "fix the cause and run the same leaf ca command again" },
    );
  }
  return { argv, stdout, stderr, summary: parseUpdateSummary(stdout) };
}

function defaultWhich(name: string): string | undefined {
  const path = Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
  // sudo and non-root shells often lack the sbin folders these tools live in.
  return resolveProgram(name, `${path}:/usr/local/sbin:/usr/sbin:/sbin`);
}

function storeError(message: string, cause: unknown): LeafError {
  const denied = cause instanceof Deno.errors.PermissionDenied;
  const reason = cause instanceof Error ? cause.message.replace(/ \(os error \d+\).*$/s, "") : "";
  const hint = denied ? "run with sudo" : "check the path and its permissions";
  const text = `${message}: ${denied ? "permission denied" : reason}`;
  return new LeafError(text, EXIT.usage, "trust_store.io", { cause, hint });
}

function pemBlocks(text: string) {
  try {
    return splitPem(text);
  } catch {
    return [];
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
