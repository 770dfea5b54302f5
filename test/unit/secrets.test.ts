// Secrets never printed: a VRRPv2 password is text exactly as written (0012 stays "0012"), a
// config error about one names file:line and field but never its value, and log lines show
// [redacted] for passwords and fields named like them, however deep.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { formatIssue, parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/core/log.js';

const v2 = (auth: string): string =>
  `vrrp:\n  instances:\n    - name: VI_1\n      interface: eth0\n      vrid: 51\n      version: 2\n      advert_int: 1\n      virtual_ipaddress: [192.0.2.100/24]\n      auth: ${auth}\n`;

const password = (auth: string): unknown => {
  const r = parseConfig(v2(auth), 'duet.yaml');
  return r.ok ? r.value.vrrp.instances[0]?.auth.password : r.error.map(formatIssue);
};
const errors = (auth: string): string[] => {
  const r = parseConfig(v2(auth), 'duet.yaml');
  return r.ok ? [] : r.error.map(formatIssue);
};

test('a numeric-looking password is the text written, not a number', (t) => {
  for (const [written, want] of [
    ['12345678', '12345678'], ['0012', '0012'], ['1.50', '1.50'], ['0x1F', '0x1F'], ['1e3', '1e3'], ['007', '007'],
    ['true', 'true'], ['"0012"', '0012'], ["'42'", '42'], ['s3cr3t', 's3cr3t'],
  ] as const) {
    t.is(password(`{ type: pass, password: ${written} }`), want, written);
  }
  t.is(password('\n        type: pass\n        password: 0012'), '0012', 'block form');
});

test('errors about a password or auth name the place but never the value', (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['{ type: pass, password: hunter2hunter2 }', 'hunter2hunter2', /^duet\.yaml:9:37 vrrp\.instances\[0\]\.auth\.password: must be 1\.\.8 bytes, got 14$/],
    ['{ type: pass, password: 123456789012 }', '123456789012', /^duet\.yaml:9:37 vrrp\.instances\[0\]\.auth\.password: must be 1\.\.8 bytes, got 12$/],
    ['{ type: pass, password: [hunter22] }', 'hunter22', /^duet\.yaml:9:37 vrrp\.instances\[0\]\.auth\.password: expected a string, got a list$/],
    ['{ type: pass, password: { p: hunter22 } }', 'hunter22', /^duet\.yaml:9:37 vrrp\.instances\[0\]\.auth\.password: expected a string, got a mapping$/],
    ['hunter22', 'hunter22', /^duet\.yaml:9:13 vrrp\.instances\[0\]\.auth: expected a mapping \{type, password\}, got a string \(not shown\)$/],
    ['87654321', '87654321', /^duet\.yaml:9:13 vrrp\.instances\[0\]\.auth: expected a mapping \{type, password\}, got a number \(not shown\)$/],
  ];
  for (const [auth, secret, want] of cases) {
    const e = errors(auth);
    t.is(e.length, 1, auth);
    t.regex(e[0] ?? '', want, auth);
    t.false(e.join('\n').includes(secret), `${auth}: ${e.join('; ')}`);
  }
  // Not secret: the type, and unknown field names, are still shown.
  t.deepEqual(errors('{ type: ah }'), ["duet.yaml:9:21 vrrp.instances[0].auth.type: expected one of none, pass, got 'ah'"]);
});

async function logged(write: (log: ReturnType<typeof createLogger>) => void): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'duet-secret-'));
  const fd = openSync(join(dir, 'out'), 'w');
  const log = createLogger({ name: 'lb1', destination: fd });
  write(log);
  await new Promise<void>((r) => log.flush(() => r()));
  await new Promise((r) => setTimeout(r, 50));
  closeSync(fd);
  const text = readFileSync(join(dir, 'out'), 'utf8');
  rmSync(dir, { recursive: true, force: true });
  return text;
}

test('log lines show [redacted] for passwords and secret-named fields, at any depth; the rest is kept', async (t) => {
  const r = parseConfig(v2('{ type: pass, password: 0012 }'), 'duet.yaml');
  if (!r.ok) { t.fail(r.error.map(formatIssue).join('\n')); return; }
  const text = await logged((log) => {
    log.info({ config: r.value }, 'config loaded');
    log.child({ mod: 'vrrp' }).warn({ instance: 'VI_1', settings: { authType: 1, authPassword: 'pw-1' }, advert: { authData: 'pw-2' }, key: 'k', secret: 's' }, 'advert dropped');
  });
  const [first, second] = text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  t.deepEqual(first?.['config'].vrrp.instances[0].auth, { type: 'pass', password: '[redacted]' });
  t.is(first?.['config'].vrrp.instances[0].name, 'VI_1', 'the rest of the object is kept');
  t.like(second, { instance: 'VI_1', settings: { authType: 1, authPassword: '[redacted]' }, advert: { authData: '[redacted]' }, key: '[redacted]', secret: '[redacted]' });
  t.false(/0012|pw-1|pw-2/.test(text), text);
  t.is(r.value.vrrp.instances[0]?.auth.password, '0012', 'logging does not change the object');
});
