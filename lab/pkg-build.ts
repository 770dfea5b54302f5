// `npm run package`: builds duet_<version>_<arch>.deb offline from this checkout with dpkg-deb.
// The application goes to /usr/lib/duet (dist/ of the product, the production node_modules as
// `npm ls --omit=dev` lists them, the prebuilt N-API addons from native/build), a launcher to
// /usr/bin/duet, the unit to /lib/systemd/system (enabled, not started, by the maintainer
// scripts), the commented reference config to /etc/duet/duet.yaml (a conffile), generated man
// pages and bash completion (lab/pkg-man.ts). Run after `npm run build && npm run build:test`.
//   node build/lab/pkg-build.js [--out DIR]     prints the path of the .deb
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { bashCompletion, manDuet, manDuetYaml } from './pkg-man.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LIB = 'usr/lib/duet';

interface PackageJson { name: string; version: string; description: string; license?: string; dependencies?: Record<string, string> }

function sh(cmd: string, args: string[], cwd = ROOT): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The shipped /etc/duet/duet.yaml: the reference config with every line commented out. */
export function commentedConfig(conf: string): string {
  const body = conf.replace(/\n+$/, '').split('\n').map((l) => (l === '' ? '' : l.startsWith('#') ? `#${l}` : `# ${l}`)).join('\n');
  return `# duet configuration. Everything below is commented out: until you configure it, duet does
# nothing (\`duet check\` and \`duet run\` say "nothing is configured"). Uncomment and adapt it, or
# replace this file; see duet.yaml(5). Check with \`duet check\`, then \`systemctl start duet\`.
#
${body}
`;
}

/** Debian's name for this machine's architecture (amd64, arm64): the addons are built for it. */
function debArch(): string {
  return sh('dpkg', ['--print-architecture']).trim();
}

/** Directories of the production dependencies, as npm installed them (top level first). */
function productionModules(): string[] {
  const out = sh('npm', ['ls', '--omit=dev', '--parseable', '--all', '--offline']).split('\n').map((l) => l.trim()).filter(Boolean);
  return out.filter((p) => p !== ROOT.replace(/\/$/, '') && p.includes('/node_modules/'));
}

/** Package directories' top-level folders that are documentation, tests or tooling. */
const NOT_RUNTIME_DIRS = new Set(['test', 'tests', '__tests__', 'benchmark', 'benchmarks', 'example', 'examples', 'doc', 'docs', 'docsify', '.github', '.husky', '.vscode']);

/**
 * What the program does not need at run time, and lintian rightly objects to: binaries of other
 * architectures (netlink's prebuilds for arm, koffi's musl build), build left-overs (object files,
 * makefiles), dot-files (.npmignore, .eslintrc, .gitattributes), documentation and tests of the
 * bundled packages, @types (declarations only), then the directories that became empty.
 */
function prune(dir: string, arch: string): void {
  const nodeArch = arch === 'amd64' ? 'x64' : arch === 'i386' ? 'ia32' : arch === 'armhf' ? 'arm' : arch;
  const walk = (d: string, depth: number): void => {
    const isPackageDir = existsSync(join(d, 'package.json'));
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if ((/^linux-/.test(e.name) && d.endsWith('prebuilds') && e.name !== `linux-${nodeArch}`)
          || e.name === `musl_${nodeArch}` || e.name === 'obj.target' || e.name === '.deps' || e.name === '@types'
          || e.name.startsWith('.') || (isPackageDir && NOT_RUNTIME_DIRS.has(e.name))) { rmSync(p, { recursive: true }); continue; }
        walk(p, depth + 1);
      } else if (e.name.startsWith('.') || /\.(o|a|mk|gypi|map|md|markdown|html)$/.test(e.name) || /^(Makefile|config\.gypi|cnoke\.cjs)$/.test(e.name)
        || (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))) {
        rmSync(p);
      }
    }
    if (depth > 0 && readdirSync(d).length === 0) rmSync(d, { recursive: true });
  };
  walk(dir, 0);
}

/** 0755 for ELF files and scripts (#!), 0644 for everything else. */
function normalizeModes(stage: string): void {
  for (const f of files(stage)) {
    const head = Buffer.alloc(4);
    const fd = openSync(f, 'r');
    readSync(fd, head, 0, 4, 0);
    closeSync(fd);
    const exec = head.subarray(0, 2).toString() === '#!' || head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    chmodSync(f, exec && !f.endsWith('.node') ? 0o755 : 0o644);
  }
}

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p); else out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

const LICENSE_TEXT: Record<string, string> = {
  MIT: `Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
 THE SOFTWARE.`,
  ISC: `Permission to use, copy, modify, and/or distribute this software for any
 purpose with or without fee is hereby granted, provided that the above
 copyright notice and this permission notice appear in all copies.
 .
 THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.`,
  'BSD-3-Clause': `Redistribution and use in source and binary forms, with or without
 modification, are permitted provided that the following conditions are met:
 1. Redistributions of source code must retain the above copyright notice,
    this list of conditions and the following disclaimer.
 2. Redistributions in binary form must reproduce the above copyright notice,
    this list of conditions and the following disclaimer in the documentation
    and/or other materials provided with the distribution.
 3. Neither the name of the copyright holder nor the names of its
    contributors may be used to endorse or promote products derived from this
    software without specific prior written permission.
 .
 THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
 AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
 IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
 ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE
 LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
 CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
 SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
 INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
 CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
 ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
 POSSIBILITY OF SUCH DAMAGE.`,
  'Apache-2.0': `On Debian systems, the complete text of the Apache License 2.0 can be
 found in /usr/share/common-licenses/Apache-2.0.`,
};

/** debian/copyright (DEP-5): duet itself and each bundled npm package with its own licence. */
export function copyrightFile(pkg: PackageJson, modules: ReadonlyArray<{ dir: string; name: string; license: string }>): string {
  const stanzas = [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    `Upstream-Name: duet\n`,
    `Files: *\nCopyright: 2026 the duet authors\nLicense: ${pkg.license ?? 'MIT'}\n`,
  ];
  const used = new Set([pkg.license ?? 'MIT']);
  for (const m of modules) {
    stanzas.push(`Files: node_modules/${m.dir}/*\nCopyright: the authors of the npm package ${m.name} (see its LICENSE file in /usr/lib/duet/node_modules/${m.dir})\nLicense: ${m.license}\n`);
    used.add(m.license);
  }
  for (const l of [...used].sort()) {
    const text = LICENSE_TEXT[l];
    if (!text) throw new Error(`no licence text for ${l}: add it to LICENSE_TEXT in lab/pkg-build.ts`);
    stanzas.push(`License: ${l}\n ${text}\n`);
  }
  return stanzas.join('\n');
}

const POSTINST = `#!/bin/sh
# duet: enable duet.service (not started: /etc/duet/duet.yaml ships commented out). As the
# snippet dh_installsystemd --no-start generates, guarded for hosts without systemd.
set -e
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]; then
	if command -v deb-systemd-helper >/dev/null 2>&1; then
		# Removes only a mask that deb-systemd-helper set when the package was removed.
		deb-systemd-helper unmask 'duet.service' >/dev/null || true
		# was-enabled is true on a first install: enable; on an upgrade, keep the admin's choice.
		if deb-systemd-helper --quiet was-enabled 'duet.service'; then
			deb-systemd-helper enable 'duet.service' >/dev/null || true
		else
			deb-systemd-helper update-state 'duet.service' >/dev/null || true
		fi
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		# Not restarted on upgrade: a restart of a master director is a failover. \`duet restart\`
		# hands over to the new version without a VRRP transition.
		if [ -n "$2" ] && systemctl --quiet is-active duet.service; then
			echo "duet: the running daemon is the old version; 'duet restart' switches without a failover" >&2
		fi
	fi
fi
exit 0
`;

const PRERM = `#!/bin/sh
# duet: stop the daemon when the package is removed (not on upgrade), as dh_installsystemd does.
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
	deb-systemd-invoke stop 'duet.service' >/dev/null || true
fi
exit 0
`;

const POSTRM = `#!/bin/sh
# duet: forget the unit's enablement (mask it on remove so a left-over conffile does not start
# it; purge drops the state deb-systemd-helper keeps), as dh_installsystemd does.
set -e
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "remove" ] && command -v deb-systemd-helper >/dev/null 2>&1; then
	deb-systemd-helper mask 'duet.service' >/dev/null || true
fi
if [ "$1" = "purge" ] && command -v deb-systemd-helper >/dev/null 2>&1; then
	deb-systemd-helper purge 'duet.service' >/dev/null || true
	deb-systemd-helper unmask 'duet.service' >/dev/null || true
fi
exit 0
`;

const LAUNCHER = `#!/bin/sh
# duet's launcher: the application lives in /usr/lib/duet.
exec /usr/bin/node /usr/lib/duet/dist/src/cli/duet.js "$@"
`;

/** Library dependencies of the ELF files (the N-API addons), as dpkg-shlibdeps computes them. */
function shlibDepends(stage: string, elves: string[]): string {
  const tmp = mkdtempSync(join(tmpdir(), 'duet-shlibs-'));
  try {
    mkdirSync(join(tmp, 'debian'));
    writeFileSync(join(tmp, 'debian/control'), 'Source: duet\n\nPackage: duet\nArchitecture: any\n');
    const out = sh('dpkg-shlibdeps', ['-O', '-e', ...elves.map((e) => join(stage, e))], tmp);
    return /shlibs:Depends=(.*)/.exec(out)?.[1]?.trim() ?? '';
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export interface BuildResult { deb: string; seconds: number; installedKb: number }

export function buildPackage(outDir = ROOT): BuildResult {
  const t0 = Date.now();
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
  if (!existsSync(join(ROOT, 'dist/src/cli/duet.js'))) throw new Error('dist/ is missing: run npm run build first');
  const arch = debArch();
  const work = mkdtempSync(join(tmpdir(), 'duet-pkg-'));
  const stage = join(work, 'root');
  try {
    const lib = join(stage, LIB);
    mkdirSync(lib, { recursive: true });
    cpSync(join(ROOT, 'dist/src'), join(lib, 'dist/src'), { recursive: true, filter: (s) => !s.endsWith('.map') });
    // What the program reads of package.json: the version, and "type": "module" for dist/.
    writeFileSync(join(lib, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', license: pkg.license, dependencies: pkg.dependencies }, null, 2)}\n`);
    for (const f of readdirSync(join(ROOT, 'native/build/Release')).filter((f) => f.endsWith('.node'))) {
      mkdirSync(join(lib, 'native/build/Release'), { recursive: true });
      cpSync(join(ROOT, 'native/build/Release', f), join(lib, 'native/build/Release', f));
    }
    const modules: Array<{ dir: string; name: string; license: string }> = [];
    for (const dir of productionModules()) {
      const rel = dir.slice(dir.indexOf('/node_modules/') + '/node_modules/'.length);
      const dest = join(lib, 'node_modules', rel);
      if (!existsSync(dest)) cpSync(dir, dest, { recursive: true, dereference: false });
      const pj = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
      if (!rel.includes('/node_modules/')) modules.push({ dir: rel, name: pj.name, license: pj.license ?? 'unknown' });
    }
    prune(join(lib, 'node_modules'), arch);
    const elves = files(stage).filter((f) => f.endsWith('.node')).map((f) => relative(stage, f));
    for (const e of elves) sh('strip', ['--strip-unneeded', '--remove-section=.comment', '--remove-section=.note', join(stage, e)]);

    const put = (rel: string, content: string | Buffer, mode = 0o644): void => {
      mkdirSync(dirname(join(stage, rel)), { recursive: true });
      writeFileSync(join(stage, rel), content);
      chmodSync(join(stage, rel), mode);
    };
    put('usr/bin/duet', LAUNCHER, 0o755);
    put('lib/systemd/system/duet.service', readFileSync(join(ROOT, 'systemd/duet.service')));
    put('etc/duet/duet.yaml', commentedConfig(readFileSync(join(ROOT, 'conf/duet.yaml'), 'utf8')));
    // Reproducible: dates from SOURCE_DATE_EPOCH or the commit, not the clock.
    const epoch = Number(process.env['SOURCE_DATE_EPOCH'] ?? git(['log', '-1', '--format=%ct']) ?? Math.floor(Date.now() / 1000));
    const when = new Date(epoch * 1000);
    const date = when.toISOString().slice(0, 10);
    const gz = (s: string): Buffer => gzipSync(Buffer.from(s), { level: 9 }).fill(0, 4, 8); // no mtime in the header
    put('usr/share/man/man8/duet.8.gz', gz(manDuet(pkg.version, date)));
    put('usr/share/man/man5/duet.yaml.5.gz', gz(manDuetYaml(readFileSync(join(ROOT, 'conf/duet.yaml'), 'utf8'), pkg.version, date)));
    put('usr/share/bash-completion/completions/duet', bashCompletion());
    put('usr/share/doc/duet/README.md', readFileSync(join(ROOT, 'README.md')));
    put('usr/share/doc/duet/copyright', copyrightFile(pkg, modules));
    const maintainer = maintainerName();
    const rev = git(['rev-parse', '--short', 'HEAD']);
    const from = rev ? `commit ${rev}` : 'a tree outside git';
    put('usr/share/doc/duet/changelog.gz', gz(`duet (${pkg.version}) unstable; urgency=medium\n\n  * Built by npm run package (lab/pkg-build.ts) from ${from}.\n\n -- ${maintainer}  ${rfc2822(when)}\n`));

    normalizeModes(stage);
    const installedKb = Math.ceil(files(stage).reduce((n, f) => n + statSync(f).size, 0) / 1024);
    const depends = ['nodejs (>= 20.19)', 'iproute2', shlibDepends(stage, elves)].filter(Boolean).join(', ');
    const debian = join(stage, 'DEBIAN');
    mkdirSync(debian);
    writeFileSync(join(debian, 'control'), `Package: duet
Version: ${pkg.version}
Architecture: ${arch}
Maintainer: ${maintainer}
Installed-Size: ${installedKb}
Depends: ${depends}
Section: net
Priority: optional
Description: HA load-balancer director pair: VRRP, IPVS, health checks
 duet runs one node of a pair of Linux load-balancer directors: VRRP
 (versions 2 and 3, wire-compatible with keepalived) moves the virtual
 addresses, the kernel's IPVS table is kept equal to the configured virtual
 servers, health checks take failed real servers out and the IPVS sync daemon
 carries connections to the peer. An operator CLI drives failover,
 maintenance and real-server weights.
 .
 The service is enabled but not started: configure /etc/duet/duet.yaml first.
`);
    writeFileSync(join(debian, 'conffiles'), '/etc/duet/duet.yaml\n');
    for (const [name, text] of [['postinst', POSTINST], ['prerm', PRERM], ['postrm', POSTRM]] as const) {
      writeFileSync(join(debian, name), text);
      chmodSync(join(debian, name), 0o755);
    }
    const sums = files(stage).filter((f) => !f.startsWith(debian) && !f.startsWith(join(stage, 'etc/')))
      .map((f) => `${createHash('md5').update(readFileSync(f)).digest('hex')}  ${relative(stage, f)}`).join('\n');
    writeFileSync(join(debian, 'md5sums'), `${sums}\n`);
    chmodSync(join(debian, 'md5sums'), 0o644);
    for (const d of [stage, ...dirsUnder(stage)]) chmodSync(d, 0o755);

    mkdirSync(outDir, { recursive: true });
    const deb = join(outDir, `duet_${pkg.version}_${arch}.deb`);
    execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '-z6', '--build', stage, deb], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } });
    return { deb, seconds: (Date.now() - t0) / 1000, installedKb };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function dirsUnder(d: string): string[] {
  return readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).flatMap((e) => [join(d, e.name), ...dirsUnder(join(d, e.name))]);
}

/** A git answer, or undefined outside a checkout or when git has no answer (an unset user). */
function git(args: string[]): string | undefined {
  try { return sh('git', args).trim() || undefined; } catch { return undefined; }
}

/** DEBFULLNAME/DEBEMAIL as Debian's tools take them, else git's user, else the commit's author. */
function maintainerName(): string {
  const name = process.env['DEBFULLNAME'] ?? git(['config', 'user.name']) ?? git(['log', '-1', '--format=%an']);
  const mail = process.env['DEBEMAIL'] ?? git(['config', 'user.email']) ?? git(['log', '-1', '--format=%ae']);
  if (!name || !mail) throw new Error('no maintainer: set DEBFULLNAME and DEBEMAIL');
  return `${name} <${mail}>`;
}

function rfc2822(d: Date): string {
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${day}, ${p(d.getUTCDate())} ${mon} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--out');
  const r = buildPackage(i > 0 ? process.argv[i + 1] : ROOT);
  console.error(`duet: built ${r.deb} in ${r.seconds.toFixed(1)} s (${r.installedKb} KiB installed)`);
  console.log(r.deb);
}
