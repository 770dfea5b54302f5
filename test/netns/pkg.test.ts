// The Debian package, end to end: `npm run package`'s builder makes the .deb, lintian finds no
// errors, and it is installed with dpkg in a throw-away root: a private mount namespace with an
// overlayfs over / (upper layer on a tmpfs), chrooted into. There: duet --version, duet check on
// the shipped (commented) config, the conffile registered, the unit enabled but not started, the
// man pages, the completion; the daemon started as the unit's ExecStart starts it, with a
// NOTIFY_SOCKET this test listens on (systemd's part), reaching READY=1; then remove and purge,
// after which the overlay's upper layer holds nothing but dpkg's own records.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { createLab, waitFor, type Lab } from '../../lab/netns.js';
import { pairConfig } from '../../lab/duet-node.js';
import type { BuildResult } from '../../lab/pkg-build.js';
import { unitSection } from '../../lab/systemd-unit.js';
import { listenNotify } from '../../src/systemd/notify.js';

interface Run { code: number | null; stdout: string; stderr: string }

function run(argv: string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { maxBuffer: 64 << 20, timeout: timeoutMs }, (e, stdout, stderr) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr });
    });
  });
}

const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const work = mkdtempSync(join(tmpdir(), 'pkg-'));
const merged = join(work, 'root', 'm');
let built: BuildResult;
let holder: ChildProcess | undefined;
let holderPid = 0;
let lab: Lab;

/** argv in the throw-away root's mount namespace (outside the chroot). */
const inNs = (argv: string[], o: { net?: string; timeoutMs?: number } = {}): Promise<Run> =>
  run(['nsenter', '-t', String(holderPid), '-m', ...(o.net ? [`--net=/run/netns/${o.net}`] : []), '--', ...argv], o.timeoutMs);
/** argv inside the throw-away root. */
const inRoot = (argv: string[], o: { net?: string; timeoutMs?: number } = {}): Promise<Run> =>
  inNs(['chroot', merged, 'env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', ...argv], o);
const shell = (script: string, o: { net?: string; timeoutMs?: number } = {}): Promise<Run> => inRoot(['sh', '-ec', script], o);
const bash = (script: string, o: { net?: string; timeoutMs?: number } = {}): Promise<Run> => inRoot(['bash', '-c', script], o);

test.before(async (t) => {
  t.timeout(600_000); // the package build: ~20 s here, minutes on a loaded machine
  // As `npm run package` runs it (after the build), in a child so that this worker stays responsive.
  const t0 = Date.now();
  const b = await run([process.execPath, fileURLToPath(new URL('../../lab/pkg-build.js', import.meta.url)), '--out', join(work, 'out')], 600_000);
  if (b.code !== 0) throw new Error(`npm run package failed: ${b.stderr}`);
  const deb = b.stdout.trim();
  built = { deb, seconds: (Date.now() - t0) / 1000, installedKb: Number((await run(['dpkg-deb', '-f', deb, 'Installed-Size'])).stdout.trim()) };
  lab = await createLab('pkg', [{ name: 'p1', addr: '192.0.2.41' }]);
  // The throw-away root: a process holds a private mount namespace in which a tmpfs carries the
  // overlay's upper and work layers over the host's /; proc, sys and dev as the host has them, and
  // an empty /run (no systemd there, as on a host being installed). Gone with the process.
  const root = join(work, 'root');
  mkdirSync(root);
  const setup = `set -e
mount -t tmpfs pkg-tmp ${root}
mkdir ${root}/u ${root}/w ${root}/m ${root}/share
mount -t overlay pkg-overlay -o lowerdir=/,upperdir=${root}/u,workdir=${root}/w ${merged}
mount -t proc proc ${merged}/proc
mount --rbind /sys ${merged}/sys
mount --rbind /dev ${merged}/dev
mount -t tmpfs pkg-run ${merged}/run
mkdir -p ${merged}/run/pkg-share
mount --bind ${join(work, 'share')} ${merged}/run/pkg-share
echo ready
exec sleep 3600`;
  mkdirSync(join(work, 'share'));
  holder = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', setup], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  holder.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  await new Promise<void>((resolve, reject) => {
    holder!.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
    holder!.on('exit', (code) => reject(new Error(`throw-away root: exit ${String(code)}: ${err}`)));
  });
  holderPid = holder.pid!;
  const cp = await inNs(['cp', built.deb, join(merged, 'tmp', 'duet.deb')]);
  if (cp.code !== 0) throw new Error(`copy: ${cp.stderr}`);
});

test.after.always(async () => {
  holder?.kill('SIGKILL');
  await lab?.destroy();
  rmSync(work, { recursive: true, force: true });
});

test.serial('the package builds and lintian finds no errors', async (t) => {
  t.timeout(600_000);
  t.log(`built ${built.deb} in ${built.seconds.toFixed(1)} s, ${built.installedKb} KiB installed`);
  const info = await run(['dpkg-deb', '--info', built.deb]);
  t.regex(info.stdout, /Depends: nodejs \(>= 20\.19\), iproute2/);
  const l = await run(['lintian', '--fail-on', 'none', built.deb], 600_000);
  t.is(l.code, 0, l.stderr);
  const tags = l.stdout.split('\n').filter((x) => /^[EW]: /.test(x));
  t.log(`lintian: ${tags.length ? tags.join('\n') : 'no errors, no warnings'}`);
  t.deepEqual(tags.filter((x) => x.startsWith('E: ')), [], 'lintian errors');
});

test.serial('installed with dpkg: --version, check, conffile, enabled but not started, man pages, completion', async (t) => {
  t.timeout(300_000);
  // The host's Node.js should be a Debian package >= 20.19 (NodeSource's or Debian 13's); one
  // installed otherwise (a tarball) cannot satisfy Depends: install anyway, and say so.
  const node = await run(['sh', '-c', "v=$(dpkg-query -W -f='${Version}' nodejs 2>/dev/null) && dpkg --compare-versions \"$v\" ge 20.19"]);
  if (node.code !== 0) t.log('the host has no nodejs package >= 20.19: dpkg -i --force-depends');
  const inst = await inRoot(['dpkg', '-i', ...(node.code === 0 ? [] : ['--force-depends']), '/tmp/duet.deb'], { timeoutMs: 240_000 });
  t.is(inst.code, 0, inst.stderr);
  const v = await inRoot(['duet', '--version']);
  t.is(v.stdout.trim(), `duet ${version}`, v.stderr);

  // The shipped config: commented out, so the daemon does nothing until configured, and says so.
  const check = await inRoot(['duet', 'check', '-c', '/etc/duet/duet.yaml']);
  t.is(check.code, 1);
  t.regex(check.stderr, /nothing is configured/);
  // ... and it is the documented reference config: uncommented, it is valid (conf/duet.yaml).
  const uncommented = await shell("sed -n '/^#$/,$p' /etc/duet/duet.yaml | tail -n +2 | sed -e 's/^# //' -e 's/^##/#/' > /tmp/uncommented.yaml; cat /tmp/uncommented.yaml");
  t.is(uncommented.stdout.trim(), readFileSync(new URL('../../../conf/duet.yaml', import.meta.url), 'utf8').trim());
  const valid = await inRoot(['duet', 'check', '-c', '/tmp/uncommented.yaml']);
  t.is(valid.code, 0, valid.stderr);

  const conffiles = await inRoot(['dpkg-query', '-W', '-f=${Conffiles}', 'duet']);
  t.regex(conffiles.stdout, /^ \/etc\/duet\/duet\.yaml [0-9a-f]{32}$/m);
  const wants = await inRoot(['readlink', '/etc/systemd/system/multi-user.target.wants/duet.service']);
  t.is(wants.stdout.trim(), '/lib/systemd/system/duet.service', 'enabled');
  const started = await shell('test ! -e /run/duet && ! grep -l "[/]usr/lib/duet/dist" /proc/[0-9]*/cmdline 2>/dev/null');
  t.is(started.code, 0, `not started: ${started.stdout}`);

  for (const [page, want] of [['duet', /duet failover/], ['duet.yaml', /virtual_servers:/]] as const) {
    const where = await inRoot(['man', '-w', page]);
    t.regex(where.stdout, page === 'duet' ? /man8\/duet\.8\.gz$/m : /man5\/duet\.yaml\.5\.gz$/m);
    const shown = await inRoot(['env', 'MANWIDTH=80', 'man', '--warnings', '-E', 'UTF-8', page]);
    t.is(shown.code, 0);
    t.regex(shown.stdout, want);
    t.is(shown.stderr, '', `${page}: no warnings from groff`);
  }
  const complete = await bash(". /usr/share/bash-completion/completions/duet; COMP_WORDS=(duet fa); COMP_CWORD=1; _duet; echo \"${COMPREPLY[*]}\"; COMP_WORDS=(duet ipvs list --j); COMP_CWORD=3; _duet; echo \"${COMPREPLY[*]}\"");
  t.is(complete.stdout, 'failover\n--json\n', complete.stderr);
});

test.serial('started as the unit starts it, the daemon reaches READY=1 over NOTIFY_SOCKET; completion names its instances and services', async (t) => {
  t.timeout(120_000);
  const unit = (await inRoot(['cat', '/lib/systemd/system/duet.service'])).stdout;
  const execStart = unitSection(unit, 'Service').get('ExecStart')?.[0];
  t.is(execStart, '/usr/bin/duet run -c /etc/duet/duet.yaml');
  const ns = lab.host('p1').ns;
  // As installed (nothing configured): the daemon refuses with exit 2, which the unit does not restart.
  t.true(unitSection(unit, 'Service').get('RestartPreventExitStatus')?.includes('2'));
  const unconfigured = await inRoot(execStart!.split(' '), { net: ns });
  t.is(unconfigured.code, 2);
  t.regex(unconfigured.stderr, /nothing is configured/);
  const yaml = pairConfig('p1', { ifname: lab.host('p1').ifname, priority: 150, vip: '192.0.2.140/24', extra: `virtual_servers:
  - name: web
    address: 192.0.2.140
    port: 80
    lb_kind: dr
    real_servers: [{ address: 192.0.2.42 }]
` });
  const put = await inNs(['sh', '-c', `cat > ${merged}/etc/duet/duet.yaml <<'EOF'\n${yaml}EOF\nmkdir -m 0711 ${merged}/run/duet`]);
  t.is(put.code, 0, put.stderr);
  const l = listenNotify(join(work, 'share', 'notify'));
  t.teardown(() => l.close());
  // What systemd does for the unit: RuntimeDirectory= (above), NOTIFY_SOCKET, then ExecStart.
  const daemon = spawn('nsenter', ['-t', String(holderPid), '-m', `--net=/run/netns/${ns}`, '--', 'chroot', merged,
    'env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'NOTIFY_SOCKET=/run/pkg-share/notify', ...execStart!.split(' ')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  daemon.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => daemon.on('exit', (c) => resolve(c)));
  t.teardown(() => { daemon.kill('SIGKILL'); });
  const got: string[] = [];
  await waitFor(() => { got.push(...l.read()); return got.some((m) => m.startsWith('READY=1')) || undefined; }, { timeoutMs: 30_000, intervalMs: 50, what: `READY=1 (${stderr})` });
  t.regex(got.find((m) => m.startsWith('READY=1'))!, /^READY=1\nSTATUS=VI_1 /);

  const status = await inRoot(['duet', 'status', '--json'], { net: ns });
  t.is(status.code, 0, status.stderr);
  const complete = (words: string): Promise<Run> => bash(`. /usr/share/bash-completion/completions/duet; COMP_WORDS=(${words} ''); COMP_CWORD=\${#COMP_WORDS[@]}; COMP_CWORD=$((COMP_CWORD-1)); _duet; printf '%s\\n' "\${COMPREPLY[@]}"`, { net: ns });
  t.is((await complete('duet failover')).stdout, 'VI_1\n');
  t.deepEqual((await complete('duet drain')).stdout.split('\n').filter(Boolean).sort(), ['tcp:192.0.2.140:80', 'web']);
  t.is((await complete('duet weight web')).stdout, '192.0.2.42:80\n');

  daemon.kill('SIGTERM');
  await waitFor(() => { got.push(...l.read()); return got.includes('STOPPING=1') || undefined; }, { timeoutMs: 15_000, what: 'STOPPING=1' });
  t.is(await exited, 0, stderr);
});

test.serial('remove keeps the conffile; purge leaves nothing but dpkg\'s records', async (t) => {
  t.timeout(300_000);
  const rm = await inRoot(['dpkg', '-r', 'duet'], { timeoutMs: 240_000 });
  t.is(rm.code, 0, rm.stderr);
  t.is((await shell('test -e /etc/duet/duet.yaml && test ! -e /usr/bin/duet && test ! -e /usr/lib/duet')).code, 0, 'after remove: the conffile stays, the program goes');
  const purge = await inRoot(['dpkg', '-P', 'duet'], { timeoutMs: 240_000 });
  t.is(purge.code, 0, purge.stderr);
  // Everything in the upper layer is what the install changed; after the purge only dpkg's and
  // man-db's records, and the directories they live in, may remain (and this test's /tmp files).
  const upper = await inNs(['sh', '-c', `cd ${join(work, 'root', 'u')} && find . -mindepth 1 \\( -type d -printf 'd %p\\n' \\) -o -printf 'f %p\\n'`]);
  const allowed = [/^\.\/var\/lib\/dpkg\//, /^\.\/var\/log\/dpkg\.log$/, /^\.\/var\/cache\/man\//, /^\.\/tmp\//, /^\.\/var\/cache\/debconf\//];
  const left: string[] = [];
  for (const line of upper.stdout.split('\n').filter(Boolean)) {
    const [kind, p] = [line[0], line.slice(2)];
    if (allowed.some((a) => a.test(p))) continue;
    // A directory also on the host is only the overlay's copy-up of a parent: not left behind.
    if (kind === 'd' && (await run(['test', '-d', p.slice(1)])).code === 0) continue;
    left.push(p);
  }
  t.deepEqual(left, [], 'left behind after purge');
});
