// `duet import keepalived` as a user runs it: YAML on stdout or -o, untranslated keywords on
// stderr as file:line: keyword: why, the exit status for complete / partial / failed / usage,
// --check loading the result, includes read from disk relative to the including file.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/duet.js', import.meta.url));

function duet(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (e, stdout, stderr) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, stdout, stderr }));
  });
}

const INSTANCE = 'vrrp_instance VI_1 {\n  interface lo\n  virtual_router_id 51\n  virtual_ipaddress {\n    192.0.2.100/24\n  }\n}\n';

test('complete, partial, failed and usage each have their exit status', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-import-'));
  try {
    mkdirSync(join(dir, 'conf.d'));
    writeFileSync(join(dir, 'keepalived.conf'), 'global_defs {\n  router_id lb1\n}\ninclude conf.d/*.conf\n');
    writeFileSync(join(dir, 'conf.d', 'vi1.conf'), INSTANCE);
    const ok = await duet(['import', 'keepalived', join(dir, 'keepalived.conf'), '--check']);
    t.is(ok.code, 0, ok.stderr);
    t.regex(ok.stdout, new RegExp(`# vrrp_instance VI_1 \\(${join(dir, 'conf.d', 'vi1.conf')}:1\\)\\n    - name: VI_1`));
    t.regex(ok.stderr, /translated completely/);

    writeFileSync(join(dir, 'partial.conf'), `${INSTANCE}static_routes {\n  10.0.0.0/8 via 192.0.2.1\n}\n`);
    const out = join(dir, 'duet.yaml');
    const partial = await duet(['import', 'keepalived', join(dir, 'partial.conf'), '-o', out, '--check']);
    t.is(partial.code, 4, partial.stderr);
    t.is(partial.stdout, '');
    t.true(partial.stderr.split('\n').includes(`${join(dir, 'partial.conf')}:8: static_routes: duet manages only the VIPs of its VRRP instances; set routes and rules in the host network configuration or in a notify hook`), partial.stderr);
    t.regex(readFileSync(out, 'utf8'), /^vrrp:\n {2}instances:/m);

    writeFileSync(join(dir, 'broken.conf'), 'vrrp_instance VI_1 {\n');
    const failed = await duet(['import', 'keepalived', join(dir, 'broken.conf')]);
    t.is(failed.code, 1);
    t.regex(failed.stderr, new RegExp(`${join(dir, 'broken.conf')}:1: vrrp_instance: block not closed`));
    t.is(failed.stdout, '');

    // Translated, but duet's loader refuses it (an interface name duet cannot take): --check fails.
    writeFileSync(join(dir, 'bad.conf'), INSTANCE.replace('interface lo', 'interface this-name-is-too-long'));
    const unchecked = await duet(['import', 'keepalived', join(dir, 'bad.conf')]);
    t.is(unchecked.code, 0, unchecked.stderr);
    const checked = await duet(['import', 'keepalived', join(dir, 'bad.conf'), '--check']);
    t.is(checked.code, 1);
    t.regex(checked.stderr, /vrrp\.instances\[0\]\.interface: must be an interface name/);

    t.is((await duet(['import', 'haproxy'])).code, 2);
    t.is((await duet(['import', 'keepalived', join(dir, 'missing.conf')])).code, 1);
    const help = await duet(['import', '--help']);
    t.regex(help.stdout, /Exit 0 complete, 4 partial, 1 failed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--config-id picks the @ID lines', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-import-'));
  try {
    writeFileSync(join(dir, 'k.conf'), INSTANCE.replace('  interface lo', '@a  priority 200\n@^a  priority 50\n  interface lo'));
    const a = await duet(['import', 'keepalived', join(dir, 'k.conf'), '--config-id', 'a']);
    const b = await duet(['import', 'keepalived', join(dir, 'k.conf'), '--config-id', 'b']);
    t.regex(a.stdout, /priority: 200/);
    t.regex(b.stdout, /priority: 50/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
