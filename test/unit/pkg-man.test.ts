// The package's generated documents (lab/pkg-man.ts) and shipped config (lab/pkg-build.ts):
// every command and every setting of the reference config is in the man pages, groff reads them
// without a warning, the completion is valid bash that completes subcommands and options, and
// the shipped config is the reference config commented out.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import test from 'ava';
import { bashCompletion, commandDocs, commandOptions, isCommentedYaml, manDuet, manDuetYaml, parseCommand, roffOptions, roffText } from '../../lab/pkg-man.js';
import { commentedConfig } from '../../lab/pkg-build.js';
import { COMMANDS } from '../../src/cli/usage.js';
import { NOTHING_CONFIGURED, parseConfig } from '../../src/config/load.js';

const CONF = readFileSync(new URL('../../../conf/duet.yaml', import.meta.url), 'utf8');

function run(argv: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile(argv[0]!, argv.slice(1), { timeout: 60_000, maxBuffer: 16 << 20 }, (e, stdout, stderr) =>
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout, stderr }));
    p.stdin!.end(input);
  });
}

test('roff escaping: backslashes, lines starting with . or \', options with a minus sign', (t) => {
  t.is(roffText('a\\b'), 'a\\eb');
  t.is(roffText('.not a request'), '\\&.not a request');
  t.is(roffText("'neither"), "\\&'neither");
  t.is(roffOptions('run -c FILE [-s SOCKET] [--pretty] re-read'), 'run \\-c FILE [\\-s SOCKET] [\\-\\-pretty] re-read');
});

test('a command entry splits into synopsis and description as --help lays it out', (t) => {
  const usage = (n: string): string => COMMANDS.find(([c]) => c === n)![1];
  t.deepEqual(parseCommand('check', usage('check')), { name: 'check', synopsis: ['check -c FILE'], description: ['validate a config file; touches nothing'] });
  const runDoc = parseCommand('run', usage('run'));
  t.deepEqual(runDoc.synopsis, ['run -c FILE [-s SOCKET] [--pretty]']);
  t.deepEqual(runDoc.description, ['run the daemon in the foreground (--pretty: readable logs)']);
  const ipvs = parseCommand('ipvs', usage('ipvs'));
  t.is(ipvs.synopsis.length, 2);
  t.true(ipvs.description.length >= 3);
  t.deepEqual(commandOptions(parseCommand('weight', usage('weight'))), ['--clear', '--help']);
  for (const d of commandDocs()) t.true(d.synopsis[0]!.startsWith(`${d.name} `) || d.synopsis[0] === d.name, d.name);
});

const MACROS = /^\.(\\"|TH|SH|SS|TP|PP|B|BR|I|RI|br|EX|EE) ?/;

test('duet(8): every command with its synopsis and description; only man macros; groff has no warnings', async (t) => {
  const page = manDuet('9.8.7', '2026-01-02');
  t.regex(page, /^\.TH DUET 8 2026-01-02 "duet 9\.8\.7" "System Administration"$/m);
  for (const d of commandDocs()) {
    t.true(page.includes(`.B duet ${roffOptions(d.synopsis[0]!)}\n`), d.name);
    for (const l of d.description) t.true(page.includes(roffOptions(l)), `${d.name}: ${l}`);
  }
  t.deepEqual(page.split('\n').filter((l) => /^[.']/.test(l) && !MACROS.test(l)), []);
  const g = await run(['groff', '-man', '-Tutf8', '-ww', '-z'], page);
  t.is(g.code, 0);
  t.is(g.stderr, '');
});

test('duet.yaml(5): every setting of conf/duet.yaml, its sections and prose; groff has no warnings', async (t) => {
  const page = manDuetYaml(CONF, '9.8.7', '2026-01-02');
  for (const line of CONF.split('\n')) {
    if (line.trim() === '' || /^# -+ .* -+$/.test(line)) continue;
    const shown = line.startsWith('#') && !isCommentedYaml(line) ? roffOptions(line.replace(/^# ?/, '')) : roffText(line);
    t.true(page.includes(`${shown}\n`), `missing: ${line}`);
  }
  for (const m of CONF.matchAll(/^# -+ (.*?) -+$/gm)) t.true(page.includes(`.SS "${m[1]}"\n`), m[1]!);
  t.deepEqual(page.split('\n').filter((l) => /^[.']/.test(l) && !MACROS.test(l)), []);
  const g = await run(['groff', '-man', '-Tutf8', '-ww', '-z'], page);
  t.is(g.code, 0);
  t.is(g.stderr, '');
});

test('commented-out YAML and prose comments are told apart', (t) => {
  for (const l of ['# metrics:', '#   listen: x', '# lvs_timeouts: { tcp: 900 }', '# - foo']) t.true(isCommentedYaml(l), l);
  for (const l of ['# keepalived: virtual_server 192.0.2.100 80 { ... }', '# Prometheus endpoint (not in keepalived).', '#']) t.false(isCommentedYaml(l), l);
});

test('the completion is valid bash and completes subcommands and a command\'s options', async (t) => {
  const script = bashCompletion();
  t.is((await run(['bash', '-n'], script)).code, 0);
  const complete = async (words: string[]): Promise<string[]> => {
    const r = await run(['bash', '-c', `eval "$(cat)"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _duet; printf '%s\\n' "\${COMPREPLY[@]}"`], script);
    t.is(r.stderr, '');
    return r.stdout.split('\n').filter(Boolean).sort();
  };
  t.deepEqual(await complete(['duet', 'ma']), ['maintenance']);
  t.deepEqual(await complete(['duet', 're']), ['realserver', 'reload', 'restart']);
  t.deepEqual(await complete(['duet', 'ipvs', 'list', '--s']), ['--stats']);
  t.deepEqual(await complete(['duet', 'maintenance', '']), ['off', 'on']);
  t.deepEqual(await complete(['duet', 'realserver', 'setup', '--mode', '']), ['dr', 'tun']);
  // No daemon (no duet on PATH here): no names, and no error.
  t.deepEqual(await complete(['duet', 'failover', '']), []);
});

test('the shipped config is the reference config, every line commented out: nothing is configured', (t) => {
  const shipped = commentedConfig(CONF);
  t.true(shipped.split('\n').every((l) => l === '' || l.startsWith('#')));
  const r = parseConfig(shipped, 'duet.yaml');
  t.false(r.ok);
  if (!r.ok) t.is(r.error[0]!.message, NOTHING_CONFIGURED);
  // Uncommented as the header says, it is conf/duet.yaml again.
  const body = shipped.split('\n').slice(shipped.split('\n').indexOf('#') + 1).map((l) => l.replace(/^# /, '').replace(/^##/, '#')).join('\n');
  t.is(body, CONF);
});
