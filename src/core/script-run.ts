// The I/O edge of script security: the real file system and user database for
// script-security.ts, and what a spawn gets from a ScriptPolicy (checked path, uid/gid, a small
// fixed environment plus the variables the config passes through). Used right before every run
// of a hook, track script (daemon/child.ts) and exec check (check/checkers/exec.ts): a program
// changed after the config was loaded is refused then.
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { DuetError } from './errors.js';
import { checkScriptPath, describeRefusal, resolveUser, type RunAs, type ScriptFs, type ScriptPolicy } from './script-security.js';

/** The environment a child gets besides its DUET_* variables and the passed-through ones. */
export const CHILD_ENV: Readonly<Record<string, string>> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' };

export const realScriptFs: ScriptFs = {
  lstat: (p) => lstatSync(p),
  readlink: (p) => readlinkSync(p, 'utf8'),
};

/** script_user against this host's /etc/passwd and /etc/group. */
export function lookupUser(spec: string, files = { passwd: '/etc/passwd', group: '/etc/group' }): { ok: true; value: RunAs } | { ok: false; error: string } {
  let passwd: string;
  let group: string;
  try {
    passwd = readFileSync(files.passwd, 'utf8');
    group = spec.includes(':') ? readFileSync(files.group, 'utf8') : '';
  } catch (e) {
    return { ok: false, error: `cannot read the user database: ${(e as Error).message}` };
  }
  return resolveUser(spec, passwd, group);
}

/** A program was not run: it failed the script security checks, or its user does not exist. */
export class ScriptRefusedError extends DuetError {
  readonly code = 'DUET_E_SCRIPT_REFUSED';
}

export interface SpawnPlan {
  uid?: number;
  gid?: number;
  env: Record<string, string>;
}

/**
 * Check argv[0] under `policy` and build the spawn options; throws ScriptRefusedError when the
 * program must not run. `vars` (DUET_*) come last and win.
 */
export function planSpawn(argv: readonly string[], policy: ScriptPolicy, vars: Readonly<Record<string, string>> = {},
                          fs: ScriptFs = realScriptFs, source: NodeJS.ProcessEnv = process.env): SpawnPlan {
  const program = argv[0] ?? '';
  if (!program.startsWith('/')) throw new ScriptRefusedError(`${program || '(empty)'}: not run: the program must be an absolute path`);
  if (policy.secure) {
    const v = checkScriptPath(program, fs);
    if (!v.ok) throw new ScriptRefusedError(`not run (script security): ${describeRefusal(program, v)}`);
  }
  const env: Record<string, string> = { ...CHILD_ENV };
  for (const name of policy.env) {
    const value = source[name];
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, vars);
  if (policy.user === undefined) return { env };
  const u = lookupUser(policy.user);
  if (!u.ok) throw new ScriptRefusedError(`${program}: not run: script user ${policy.user}: ${u.error}`);
  return { uid: u.value.uid, gid: u.value.gid, env };
}

/** This host's file system and user database, for the checks at config load. */
export const realScriptHost = { fs: realScriptFs, lookupUser: (spec: string) => lookupUser(spec) };
