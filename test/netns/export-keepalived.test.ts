// keepalived 2.2.7 accepts what `duet export keepalived` writes: its config test mode
// (`keepalived -t -f FILE`) runs on the export of test/fixtures/export/full.yaml, of each conf/
// example and of each Debian sample's import, and must exit 0 without a word (or 5 with only
// the message below). It runs in a
// namespace that has the interfaces these files name (keepalived -t reports a missing one), made
// of veth pairs. The one message allowed is keepalived disabling a track script whose program
// this host does not have (a Debian sample's /etc/keepalived/scripts/...; the sample itself
// gets the same). Control: a file with a keyword keepalived does not know must be refused, so a
// keepalived that read nothing cannot pass.
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { ipBatch, removeStale } from '../../lab/netns.js';
import { exportKeepalived } from '../../src/import/keepalived-export.js';
import { importKeepalived } from '../../src/import/keepalived.js';
import { fsReader } from '../../src/import/node-reader.js';

const root = process.getuid?.() === 0;
const rootTest = root ? test.serial : test.skip;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SAMPLES = '/usr/share/doc/keepalived/samples';
const NS = 'exk-t';
const IFACES = ['eth0', 'eth1', 'eth2', 'eth3', 'eth0.1'];

let dir: string;

if (root) {
  test.before(async () => {
    await removeStale('exk');
    await ipBatch([`netns add ${NS}`]);
    await ipBatch(IFACES.flatMap((i, n) => [`link add ${i} type veth peer name exkp${n}`, `link set ${i} up`]), { ns: NS });
    dir = mkdtempSync(join(tmpdir(), 'duet-exk-'));
  });
  test.after.always(async () => {
    await removeStale('exk');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
}

/** keepalived -t on `conf`: its exit status and every line it printed. */
async function configTest(name: string, conf: string): Promise<{ code: number; lines: string[] }> {
  const file = join(dir, name);
  writeFileSync(file, conf);
  // keepalived -t of a file that does not exist exits 0: make sure it is there.
  if (!existsSync(file)) throw new Error(`${file} was not written`);
  const r = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile('ip', ['netns', 'exec', NS, 'keepalived', '-t', '-f', file], { timeout: 20_000 }, (e, stdout, stderr) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out: stdout + stderr }));
  });
  return { code: r.code, lines: r.out.split('\n').filter((l) => l.trim() !== '') };
}

/** Lines keepalived may print about programs missing on this host (each checked to be missing). */
function unexpected(lines: string[], conf: string): string[] {
  return lines.filter((l) => {
    const m = /^Disabling track script (\S+) since not found\/accessible$/.exec(l);
    if (!m) return true;
    const prog = new RegExp(`vrrp_script ${m[1]!} \\{\\n\\s*script "(\\S+)`).exec(conf)?.[1];
    return prog === undefined || existsSync(prog);
  });
}

rootTest('control: keepalived -t refuses an unknown keyword and passes a clean file', async (t) => {
  const clean = 'virtual_server 192.0.2.1 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 10.0.0.1 80 {\n    TCP_CHECK {\n      delay_loop 3\n    }\n  }\n}\n';
  const good = await configTest('clean.conf', clean);
  t.deepEqual(good, { code: 0, lines: [] });
  const bad = await configTest('bad.conf', clean.replace('delay_loop 3', 'delay_loop 3\n      rise 2'));
  t.true(bad.lines.some((l) => /Unknown keyword 'rise'/.test(l)), bad.lines.join('\n'));
});

const inputs: { name: string; yaml: () => string }[] = [
  { name: 'full.yaml', yaml: () => readFileSync(join(ROOT, 'test/fixtures/export/full.yaml'), 'utf8') },
  ...readdirSync(join(ROOT, 'conf')).filter((f) => f.endsWith('.yaml')).map((f) => ({ name: `conf/${f}`, yaml: () => readFileSync(join(ROOT, 'conf', f), 'utf8') })),
  ...(existsSync(SAMPLES) ? readdirSync(SAMPLES).filter((f) => f.startsWith('keepalived.conf.')) : []).map((f) => ({
    name: `import of ${f}`,
    yaml: () => importKeepalived(join(SAMPLES, f), { reader: fsReader, configId: 'high', resolveProgram: (p) => ({ killall: '/usr/bin/killall' } as Record<string, string>)[p] }).yaml,
  })),
];

rootTest('the Debian samples are there (apt-get install keepalived)', (t) => {
  t.true(inputs.length >= 1 + 6 + 25, `${inputs.length} inputs: ${SAMPLES} missing?`);
});

for (const { name, yaml } of inputs) {
  rootTest(`keepalived -t accepts the export of ${name}`, async (t) => {
    const e = exportKeepalived(yaml(), name);
    t.deepEqual(e.errors, []);
    t.not(e.conf, '');
    const r = await configTest(name.replace(/[^A-Za-z0-9._-]/g, '_'), e.conf);
    const left = unexpected(r.lines, e.conf);
    t.deepEqual(left, []);
    // keepalived exits 5 after any message, also the allowed one.
    t.is(r.code, r.lines.length === 0 ? 0 : 5, r.lines.join('\n'));
  });
}
