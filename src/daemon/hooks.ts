// Hooks (notify, quorum) run one after another per queue: an instance's BACKUP notify never
// overtakes the MASTER one before it, and a hook that hangs until its timeout delays only its own
// queue. A queue that backs up past a bound refuses further runs (logged) instead of growing.
import type { Logger } from '../core/log.js';
import type { Platform } from './platform.js';
import type { ScriptPolicy } from '../core/script-security.js';

export const HOOK_QUEUE_MAX = 32;

export class HookQueues {
  private readonly queues = new Map<string, { tail: Promise<void>; waiting: number }>();
  constructor(private readonly p: Pick<Platform, 'runHook'>, private readonly log: Logger, private readonly timeoutMs: () => number,
              private readonly policy: () => ScriptPolicy, private readonly max = HOOK_QUEUE_MAX) {}

  /** Queue argv on `queue`; a failure is logged with failMsg and fields, never thrown. */
  run(queue: string, argv: readonly string[], vars: Record<string, string>, failMsg: string, fields: Record<string, unknown> = {}): void {
    if (argv.length === 0) return;
    const q = this.queues.get(queue) ?? { tail: Promise.resolve(), waiting: 0 };
    this.queues.set(queue, q);
    if (q.waiting >= this.max) {
      this.log.error({ ...fields, queue, argv, waiting: q.waiting }, 'hook not run: too many waiting behind a slow one');
      return;
    }
    q.waiting++;
    q.tail = q.tail.then(() => this.p.runHook(argv, vars, this.timeoutMs(), this.policy())).catch((e: unknown) => {
      this.log.warn({ ...fields, argv, err: e instanceof Error ? e.message : String(e) }, failMsg);
    }).finally(() => {
      q.waiting--;
      if (q.waiting === 0 && this.queues.get(queue) === q) this.queues.delete(queue);
    });
  }

  /** Resolves when every queued hook has finished (for stop and tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.tail));
  }
}
