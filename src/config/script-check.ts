// Script security at load: every program the config names (track scripts, notify hooks of
// instances and sync groups, quorum hooks, exec checks) is checked against the file system, and
// scripts.user against the user database, so `duet check`, the start and a reload refuse a config
// whose programs a non-root user could change. Runs on the YAML data after the schema accepted it
// (so the shapes are known) and gives issues by YAML path; load.ts positions them. The file
// system and user database come in as a ScriptHost (tests use fakes).
import { ABSENT, checkScriptPath, describeRefusal, type RunAs, type ScriptFs, type ScriptVerdict } from '../core/script-security.js';

export interface ScriptHost {
  fs: ScriptFs;
  lookupUser(spec: string): { ok: true; value: RunAs } | { ok: false; error: string };
}

export interface ScriptIssue {
  path: (string | number)[];
  message: string;
  /** The program (or a directory on its path) does not exist on this host, or the user: the config may be meant for another. */
  absent: boolean;
}

interface Command {
  /** YAML path of the program (argv[0]). */
  path: (string | number)[];
  program: string;
  /** Per-script opt-out; notify and quorum hooks have none. */
  insecure: boolean | undefined;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Every command in the (schema-valid) YAML data, with where it is written. */
export function configCommands(data: unknown): Command[] {
  const out: Command[] = [];
  const add = (argv: unknown, path: (string | number)[], insecure?: unknown): void => {
    const program = list(argv)[0];
    if (typeof program === 'string') out.push({ path: [...path, 0], program, insecure: insecure === undefined ? undefined : insecure === true });
  };
  const hooks = (notify: unknown, path: (string | number)[]): void => {
    for (const [k, v] of Object.entries(obj(notify) ?? {})) add(v, [...path, k]);
  };
  const vrrp = obj(obj(data)?.['vrrp']);
  for (const [name, s] of Object.entries(obj(vrrp?.['scripts']) ?? {})) add(obj(s)?.['command'], ['vrrp', 'scripts', name, 'command'], obj(s)?.['insecure'] ?? false);
  list(vrrp?.['instances']).forEach((i, n) => hooks(obj(i)?.['notify'], ['vrrp', 'instances', n, 'notify']));
  list(vrrp?.['sync_groups']).forEach((g, n) => hooks(obj(g)?.['notify'], ['vrrp', 'sync_groups', n, 'notify']));
  const checks = (cs: unknown, path: (string | number)[]): void => list(cs).forEach((c, k) => {
    if (obj(c)?.['type'] === 'exec') add(obj(c)?.['command'], [...path, k, 'command'], obj(c)?.['insecure'] ?? false);
  });
  list(obj(data)?.['virtual_servers']).forEach((v, n) => {
    const vs = obj(v);
    for (const k of ['quorum_up', 'quorum_down']) add(vs?.[k], ['virtual_servers', n, k]);
    checks(vs?.['checks'], ['virtual_servers', n, 'checks']);
    list(vs?.['real_servers']).forEach((r, m) => checks(obj(r)?.['checks'], ['virtual_servers', n, 'real_servers', m, 'checks']));
  });
  return out;
}

/** Issues for programs script security refuses and for a scripts.user this host does not have. */
export function checkConfigScripts(data: unknown, host: ScriptHost): ScriptIssue[] {
  const issues: ScriptIssue[] = [];
  const scripts = obj(obj(data)?.['scripts']);
  const user = scripts?.['user'];
  if (typeof user === 'string') {
    const u = host.lookupUser(user);
    if (!u.ok) issues.push({ path: ['scripts', 'user'], message: u.error, absent: u.error.startsWith('no ') });
  }
  if (scripts?.['security'] === false) return issues;
  // One verdict per program: 10,000 real servers may share one exec check.
  const verdicts = new Map<string, ScriptVerdict>();
  for (const c of configCommands(data)) {
    if (c.insecure === true) continue;
    let v = verdicts.get(c.program);
    if (v === undefined) { v = checkScriptPath(c.program, host.fs); verdicts.set(c.program, v); }
    if (v.ok) continue;
    const optOut = c.insecure === undefined ? 'scripts.security: false' : 'insecure: true here, or scripts.security: false';
    const absent = v.reason === ABSENT;
    issues.push({
      path: c.path,
      absent,
      message: absent ? `script security: ${describeRefusal(c.program, v)}` : `script security: ${describeRefusal(c.program, v)}; make it root-owned and writable only by root (or set ${optOut})`,
    });
  }
  return issues;
}
