// What happens when something throws that nothing caught (uncaughtException, unhandledRejection).
// The process can no longer be trusted to go on: a timer or a reload may have died half way. It
// says what happened, releases its VIPs through the normal stop (priority 0, so the peer takes
// over within Skew_Time instead of Master_Down_Interval), bounded in time, and exits non-zero so
// the supervisor starts a fresh run (systemd/duet.service: Restart=on-failure).

/** EX_SOFTWARE: an internal error. */
export const EXIT_FATAL = 70;
/** How long the release may take before the process exits anyway. */
export const FATAL_RELEASE_MS = 3000;

export interface CrashPolicyDeps {
  log: { fatal(o: object, msg: string): void; error(o: object, msg: string): void };
  /** The normal stop: instances release their VIPs; resolves when done. */
  release(): Promise<unknown>;
  /** Exit the process (after the log is written). */
  exit(code: number): void;
  /** setTimeout, injectable for tests. */
  after(ms: number, fn: () => void): void;
}

type Emitter = { on(event: 'uncaughtException' | 'unhandledRejection', fn: (e: unknown) => void): unknown };

export function installCrashPolicy(proc: Emitter, d: CrashPolicyDeps, releaseMs = FATAL_RELEASE_MS): void {
  let fatal = false;
  const onFatal = (kind: string) => (e: unknown): void => {
    const err = e instanceof Error ? { message: e.message, stack: e.stack } : { message: String(e) };
    if (fatal) {
      // Already on the way out: the release and its deadline carry on.
      d.log.error({ kind, err }, 'another fatal error while releasing');
      return;
    }
    fatal = true;
    d.log.fatal({ kind, err, releaseMs }, `fatal: ${kind}; releasing VIPs and exiting ${EXIT_FATAL} for the supervisor to restart duet`);
    let exited = false;
    const exit = (): void => { if (!exited) { exited = true; d.exit(EXIT_FATAL); } };
    d.after(releaseMs, () => {
      d.log.error({ releaseMs }, 'release did not finish in time; exiting anyway');
      exit();
    });
    d.release().then(exit, (re: unknown) => {
      d.log.error({ err: re instanceof Error ? re.message : String(re) }, 'release failed; exiting');
      exit();
    });
  };
  proc.on('uncaughtException', onFatal('uncaughtException'));
  proc.on('unhandledRejection', onFatal('unhandledRejection'));
}
