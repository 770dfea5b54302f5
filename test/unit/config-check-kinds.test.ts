// The udp, ping, dns, smtp and file checks through the config: exact resolved specs, defaults,
// errors naming file:line and field, the examples documented in conf/duet.yaml; then end to end:
// a config with each kind, run by the real check worker thread (the production path: ping's
// koffi raw socket loads there) against real servers on loopback, moves the weights.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { workerChecks } from '../../src/check/host.js';
import type { CheckEvent } from '../../src/check/engine.js';
import type { CheckedService, CheckSpec } from '../../src/check/types.js';
import { configIssues as issues, parseVirtualServers as parse } from '../helpers/config.js';
import type { VirtualServerConfig } from '../../src/config/schema.js';
import { smtpServer, udpServer } from './check-servers.js';

const WEB = (checks: string) => `  - address: 192.0.2.100
    port: 80
    lb_kind: dr
    real_servers:
      - address: 192.0.2.21
        weight: 10
        checks:
${checks}`;

const T = { address: '192.0.2.21', family: 4, port: 80 } as const;

test('each kind resolves to its spec, with keepalived defaults', (t) => {
  const [v] = parse(WEB(`          - { type: udp, connect_port: 53, payload: 'Ab12f 3', require_reply: '01 xx' }
          - { type: udp, payload_text: "ping\\n", require_reply_text: pong, min_reply_length: 4, max_reply_length: 4 }
          - { type: udp }
          - { type: ping, bind_ip: 192.0.2.11 }
          - { type: dns, connect_port: 53, query_type: AAAA, name: www.example.org., expect: ['2001:db8::1'] }
          - { type: dns, connect_port: 53 }
          - { type: smtp, connect_port: 25, helo_name: d1.example.org, ehlo: true }
          - { type: smtp, connect_port: 25 }
          - { type: file, file: /run/duet/w, weight: 0, reverse: true }
`));
  const specs: CheckSpec[] = v!.realServers[0]!.checks.map((c) => c.spec);
  const u8 = (...b: number[]) => Uint8Array.from(b);
  t.deepEqual(specs, [
    { type: 'udp', target: { ...T, port: 53 }, timeoutMs: 3000, payload: u8(0xab, 0x12, 0x0f, 0x03), requireReply: true,
      reply: { data: u8(0x01, 0x00), mask: u8(0, 0xff) }, minReplyLength: 0, maxReplyLength: 255 },
    { type: 'udp', target: T, timeoutMs: 3000, payload: u8(...Buffer.from('ping\n')), requireReply: true,
      reply: { data: u8(...Buffer.from('pong')), mask: u8(0, 0, 0, 0) }, minReplyLength: 4, maxReplyLength: 4 },
    { type: 'udp', target: T, timeoutMs: 3000, requireReply: false, minReplyLength: 0, maxReplyLength: 255 },
    { type: 'ping', target: { ...T, port: 0, bindAddress: '192.0.2.11' }, timeoutMs: 3000 },
    { type: 'dns', target: { ...T, port: 53 }, timeoutMs: 3000, queryType: 'AAAA', name: 'www.example.org', expect: ['2001:db8::1'] },
    { type: 'dns', target: { ...T, port: 53 }, timeoutMs: 3000, queryType: 'SOA', name: '', expect: [] },
    { type: 'smtp', target: { ...T, port: 25 }, timeoutMs: 3000, heloName: 'd1.example.org', ehlo: true },
    { type: 'smtp', target: { ...T, port: 25 }, timeoutMs: 3000, heloName: hostname(), ehlo: false },
    { type: 'file', path: '/run/duet/w', timeoutMs: 1000, weight: 0, reverse: true },
  ]);
  const file = v!.realServers[0]!.checks[8]!;
  t.deepEqual([file.intervalMs, file.rise, file.fall], [1000, 1, 1], 'file: read every second, no retries (keepalived reads on change)');
});

const BAD: Array<[string, string, string[]]> = [
  ['bad hex, x in a payload, both payload forms', WEB("          - { type: udp, payload: 'zz', require_reply: '0q' }\n          - { type: udp, payload: '1x' }\n          - { type: udp, payload: '01', payload_text: a }\n"), [
    "duet.yaml:12:35 virtual_servers[0].real_servers[0].checks[0].payload: must be hex digits, spaces allowed, such as '0a 1b2c', got 'zz'",
    "duet.yaml:12:56 virtual_servers[0].real_servers[0].checks[0].require_reply: must be hex digits (x for any), spaces allowed, such as '0a 1b2c', got '0q'",
    "duet.yaml:13:35 virtual_servers[0].real_servers[0].checks[1].payload: must be hex digits, spaces allowed, such as '0a 1b2c', got '1x'",
    'duet.yaml:14:55 virtual_servers[0].real_servers[0].checks[2].payload_text: give payload (hex) or payload_text, not both',
  ]],
  ['reply lengths that can never pass', WEB('          - { type: udp, require_reply: true, min_reply_length: 9, max_reply_length: 8 }\n'), [
    'duet.yaml:12:65 virtual_servers[0].real_servers[0].checks[0].min_reply_length: 9 is above max_reply_length (8): the check could never pass',
  ]],
  ['dns: unknown query type, a name with spaces, an expected A that is not an address', WEB("          - { type: dns, query_type: ANY, name: 'a b', connect_port: 53 }\n          - { type: dns, query_type: A, expect: [www.example], connect_port: 53 }\n"), [
    "duet.yaml:12:38 virtual_servers[0].real_servers[0].checks[0].query_type: must be one of A, AAAA, NS, CNAME, SOA, MX, TXT, PTR, SRV, got 'ANY'",
    "duet.yaml:12:49 virtual_servers[0].real_servers[0].checks[0].name: must be a domain name such as 'www.example.org' or '.', got 'a b'",
    "duet.yaml:13:50 virtual_servers[0].real_servers[0].checks[1].expect[0]: must be an IPv4 address for a A query, got 'www.example'",
  ]],
  ['file: a relative path; ping and file take no port; smtp helo_name is one word', WEB("          - { type: file, file: run/w, connect_port: 1 }\n          - { type: ping, connect_port: 1 }\n          - { type: smtp, helo_name: 'a b' }\n"), [
    "duet.yaml:12:33 virtual_servers[0].real_servers[0].checks[0].file: must be an absolute path, got 'run/w'",
    "duet.yaml:12:40 virtual_servers[0].real_servers[0].checks[0].connect_port: unknown field 'connect_port'",
    "duet.yaml:13:27 virtual_servers[0].real_servers[0].checks[1].connect_port: unknown field 'connect_port'",
    "duet.yaml:14:38 virtual_servers[0].real_servers[0].checks[2].helo_name: must be one word, got 'a b'",
  ]],
];

for (const [name, yaml, want] of BAD) {
  test(`rejected: ${name}`, (t) => t.deepEqual(issues(yaml), want));
}

test('the udp, ping, dns, smtp and file examples in conf/duet.yaml load', (t) => {
  const text = readFileSync(fileURLToPath(new URL('../../../conf/duet.yaml', import.meta.url)), 'utf8');
  const examples = [...text.matchAll(/^\s*# - (\{ type: (udp|ping|dns|smtp|file)\b.*\})/gm)].map((m) => m[1]!);
  t.deepEqual(examples.map((e) => /type: (\w+)/.exec(e)![1]), ['udp', 'ping', 'dns', 'smtp', 'file']);
  const [v] = parse(WEB(examples.map((e) => `          - ${e}\n`).join('')));
  t.deepEqual(v!.realServers[0]!.checks.map((c) => c.spec.type), ['udp', 'ping', 'dns', 'smtp', 'file']);
});

const until = async (fn: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await fn())) { if (Date.now() > end) throw new Error(`timed out: ${what}`); await new Promise((r) => setTimeout(r, 20)); }
};

test('end to end: a config with every new kind, run by the check worker against real servers, moves the weight', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'duet-kinds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const weightFile = join(dir, 'web1.weight');
  writeFileSync(weightFile, '3\n');
  const udp = await udpServer(t, (d) => d);
  // A minimal DNS responder: the query back as a NOERROR response with no answers.
  const dns = await udpServer(t, (q) => Buffer.concat([q.subarray(0, 2), Buffer.from([0x81, 0x80]), q.subarray(4)]));
  const smtp = await smtpServer(t);
  const timing = 'interval: 0.2, timeout: 0.15, rise: 1, fall: 1';
  const [v] = parse(WEB(`          - { type: udp, connect_port: ${udp.port}, payload_text: hello, require_reply_text: hello, ${timing} }
          - { type: ping, ${timing} }
          - { type: dns, connect_port: ${dns.port}, query_type: A, name: web.test, ${timing} }
          - { type: smtp, connect_port: ${smtp.port}, helo_name: d1.test, ${timing} }
          - { type: file, file: ${weightFile}, weight: 2, ${timing} }
`));
  // The config refuses loopback addresses (connect_ip too): point the parsed checks at 127.0.0.1.
  const svc: CheckedService = { ...v!, realServers: v!.realServers.map((rs) => ({ ...rs, checks: rs.checks.map((c) => ({
    ...c, spec: 'target' in c.spec ? { ...c.spec, target: { ...c.spec.target, address: '127.0.0.1' } } as CheckSpec : c.spec,
  })) })) };
  const events: CheckEvent[] = [];
  const host = workerChecks({ onEvent: (e) => events.push(e), onError: (e) => t.fail(e.message) });
  t.teardown(() => host.close());
  await host.configure([svc]);
  const weight = () => [...host.verdicts().values()][0]?.dests.values().next().value;
  await until(async () => (await host.status())[0]?.servers[0]?.checks.every((c) => c.health === 'up') === true, 5000, 'all five up');
  const st = await host.status();
  t.deepEqual(st[0]!.servers[0]!.checks.map((c) => [c.check, c.reason]), [
    ['udp#0', 'reply'], ['ping#1', 'reply'], ['dns#2', 'NOERROR, 0 answers'], ['smtp#3', 'smtp ok'], ['file#4', 'value 3'],
  ]);
  await until(() => weight() === 16, 2000, 'weight 10 + 3 * 2');
  writeFileSync(weightFile, '-2');
  await until(() => weight() === 6, 2000, 'weight 10 - 2 * 2');
  t.true(smtp.commands.includes('HELO d1.test'));
  // The SMTP server goes: its check fails (fall 1), the server leaves the table.
  await new Promise((r) => smtp.server.close(r));
  await until(() => weight() === 'remove', 3000, 'removed');
  t.true(events.some((e) => e.kind === 'check' && e.check === 'smtp#3' && e.to === 'down' && e.reason.startsWith('refused')));
});
