// `duet realserver setup|teardown`: validate the options, read the host, plan, then print the
// steps as ip/sysctl command lines and (unless --dry-run) carry them out.
import { parsePrefix } from '../core/addr.js';
import { Rtnl } from '../netlink/rtnl.js';
import { applyStep, DEFAULT_STATE_FILE, readHost, writeState } from './apply.js';
import { formatStep, planSetup, planTeardown, sysctlKeys, validateOptions, type Plan, type RealServerOptions, type Vip } from './plan.js';

export const REALSERVER_USAGE =
  'duet realserver setup|teardown --vip ADDR [--vip ADDR...] --mode dr|tun [--dev IFACE] [--state FILE] [--dry-run]';

export interface RealServerArgs {
  vip?: string[] | undefined;
  mode?: string | undefined;
  dev?: string | undefined;
  state?: string | undefined;
  'dry-run'?: boolean | undefined;
}

type Parsed = { action: 'setup' | 'teardown'; opts: RealServerOptions; stateFile: string; dryRun: boolean };

/** The options, or an error message for the operator. */
export function parseRealServerArgs(positionals: string[], a: RealServerArgs): Parsed | string {
  const action = positionals[0];
  if (action !== 'setup' && action !== 'teardown') return `usage: ${REALSERVER_USAGE}`;
  if (positionals.length > 1) return `unexpected argument '${positionals[1]}'\nusage: ${REALSERVER_USAGE}`;
  if (a.mode !== 'dr' && a.mode !== 'tun') return `--mode must be dr or tun${a.mode === undefined ? '' : `, got '${a.mode}'`}`;
  const vips: Vip[] = [];
  for (const text of a.vip ?? []) {
    const r = parsePrefix(text);
    if (!r.ok) return `--vip ${text}: ${r.error}`;
    // A shorter prefix on lo would swallow the whole subnet (every address of it is local).
    if (r.value.prefixLen !== (r.value.family === 4 ? 32 : 128)) return `--vip ${text}: a real server holds the VIP as a host address (/32 or /128)`;
    if (!vips.some((v) => v.address === r.value.address)) vips.push({ address: r.value.address, family: r.value.family });
  }
  const opts: RealServerOptions = { mode: a.mode, vips, ...(a.dev !== undefined ? { dev: a.dev } : {}) };
  const bad = validateOptions(opts, action);
  if (bad) return bad;
  return { action, opts, stateFile: a.state ?? DEFAULT_STATE_FILE, dryRun: a['dry-run'] === true };
}

export async function realserverCommand(positionals: string[], a: RealServerArgs): Promise<number> {
  const p = parseRealServerArgs(positionals, a);
  if (typeof p === 'string') {
    console.error(`duet: ${p}`);
    return 2;
  }
  let rtnl: Rtnl | undefined;
  try {
    rtnl = new Rtnl();
    const host = await readHost(rtnl, sysctlKeys(p.opts), p.stateFile);
    const plan = p.action === 'setup' ? planSetup(p.opts, host) : planTeardown(p.opts, host);
    report(plan, p);
    if (!p.dryRun) await carryOut(rtnl, plan, p);
    return 0;
  } catch (e) {
    console.error(`duet: realserver ${p.action}: ${(e as Error).message}`);
    return 1;
  } finally {
    rtnl?.close();
  }
}

/**
 * Notes first; then each step as its command line: all of them for a dry run, else each one as
 * it succeeds, so after a failure the output shows exactly what was done.
 */
function report(plan: Plan, p: Parsed): void {
  for (const n of plan.notes) console.log(`# ${n}`);
  if (plan.steps.length === 0) console.log(`# ${p.action === 'setup' ? 'already set up' : 'nothing of duet\'s to remove'}: nothing to change`);
  else if (p.dryRun) {
    for (const s of plan.steps) console.log(formatStep(s));
    console.log('# dry run: nothing changed');
  }
}

/**
 * Setup saves the state first, so a run that fails half way can still be torn down; teardown
 * forgets it last, so a failed teardown can be run again.
 */
async function carryOut(rtnl: Rtnl, plan: Plan, p: Parsed): Promise<void> {
  if (p.action === 'setup' && plan.stateChanged) await writeState(p.stateFile, plan.state);
  for (const s of plan.steps) {
    await applyStep(rtnl, s);
    console.log(formatStep(s));
  }
  if (p.action === 'teardown' && plan.stateChanged) await writeState(p.stateFile, plan.state);
}
