/**
 * Asks systemd whether the clock is synchronised:
 * `timedatectl show -p NTPSynchronized --value`. A missing `timedatectl` (or
 * one that cannot reach systemd, as in containers) means "unknown", never
 * an error.
 *
 * @module
 */

/** The NTP state: synced, not synced, or unknown with the reason. */
export type NtpState =
  | { known: true; synchronized: boolean }
  | { known: false; reason: string };

/** Runs timedatectl; resolves to the NTP state. */
export async function ntpState(command = "timedatectl"): Promise<NtpState> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(command, {
      args: ["show", "-p", "NTPSynchronized", "--value"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    return {
      known: false,
      reason: error instanceof Deno.errors.NotFound
        ? "timedatectl is not installed"
        : `timedatectl cannot run (${(error as Error).name})`,
    };
  }
  const text = new TextDecoder().decode(out.stdout).trim();
  if (out.success && (text === "yes" || text === "no")) {
    return { known: true, synchronized: text === "yes" };
  }
  const err = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
  return { known: false, reason: `timedatectl: ${err || `exit ${out.code}`}` };
}
