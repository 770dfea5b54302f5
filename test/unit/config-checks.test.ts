// Config layer, health checks: a full example normalizes to exactly the resolved checks
// (targets, defaults, timing in ms); broken ones give exactly the expected "file:line:col path:
// message" lines, and a file with such errors gives no config at all.
import test from 'ava';
import { configIssues as issues, parseVirtualServers as parse } from '../helpers/config.js';
import type { VirtualServerConfig } from '../../src/config/schema.js';


const WEB = (checks: string, more = '') => `  - address: 192.0.2.100
    port: 80
    lb_kind: dr
    checks:
${checks}${more}    real_servers: [{ address: 192.0.2.21 }]
`;

test('every check kind and health field: exact normalized output', (t) => {
  const [v] = parse(`  - address: 192.0.2.100
    port: 80
    lb_kind: dr
    inhibit_on_failure: true
    slow_start: 2.5
    quorum: 3
    hysteresis: 1
    quorum_up: [/bin/up]
    quorum_down: [/bin/down, now]
    sorry_server: { address: 192.0.2.99 }
    latency_weight: { good_ms: 10, bad_ms: 100 }
    checks:
      - { type: http, path: /health, status: [200, '300-302'], host: www.example, body_regex: 'ok', digest: 0123456789ABCDEF0123456789abcdef, interval: 2 }
    real_servers:
      - { address: 192.0.2.21, weight: 5 }
      - address: 192.0.2.22
        inhibit_on_failure: false
        checks:
          - { type: tcp, connect_ip: 192.0.2.122, connect_port: 8080, bind_ip: 192.0.2.11, interval: 0.5, retry_delay: 1, rise: 1, fall: 5 }
          - { type: exec, command: [/usr/bin/check, '22'], dynamic: true, interval: 10, timeout: 4 }
          - { type: agent, connect_port: 9999, send: "hello\\n" }
          - { type: https, tls_verify: true, tls_name: rs.example }
`);
  t.like(v, { slowStartMs: 2500, quorum: 3, hysteresis: 1, quorumUp: ['/bin/up'], quorumDown: ['/bin/down', 'now'],
    latencyWeight: { goodMs: 10, badMs: 100, minPercent: 10, hysteresisPercent: 10, alpha: 0.3 } });
  t.deepEqual(v?.sorryServer, { address: '192.0.2.99', family: 4, port: 80, forward: 'route', weight: 1, upperThreshold: 0, lowerThreshold: 0, checks: [], inhibitOnFailure: false });
  const [a, b] = v!.realServers;
  t.is(a!.inhibitOnFailure, true);
  t.deepEqual(a!.checks, [{
    intervalMs: 2000, retryDelayMs: 2000, rise: 2, fall: 3,
    spec: { type: 'http', target: { address: '192.0.2.21', family: 4, port: 80 }, timeoutMs: 2000, method: 'GET', path: '/health', host: 'www.example',
      status: [{ from: 200, to: 200 }, { from: 300, to: 302 }], bodyRegex: 'ok', bodyDigest: '0123456789abcdef0123456789abcdef', tlsVerify: false },
  }], 'timeout defaults to the interval when shorter than 3 s; the digest is lower-cased');
  t.is(b!.inhibitOnFailure, false);
  t.deepEqual(b!.checks, [
    { intervalMs: 500, retryDelayMs: 1000, rise: 1, fall: 5, spec: { type: 'tcp', target: { address: '192.0.2.122', family: 4, port: 8080, bindAddress: '192.0.2.11' }, timeoutMs: 500 } },
    { intervalMs: 10000, retryDelayMs: 10000, rise: 2, fall: 3, spec: { type: 'exec', argv: ['/usr/bin/check', '22'], timeoutMs: 4000, dynamic: true, policy: { secure: true, env: [] } } },
    { intervalMs: 5000, retryDelayMs: 5000, rise: 2, fall: 3, spec: { type: 'agent', target: { address: '192.0.2.22', family: 4, port: 9999 }, timeoutMs: 3000, send: 'hello\n' } },
    { intervalMs: 5000, retryDelayMs: 5000, rise: 2, fall: 3, spec: { type: 'https', target: { address: '192.0.2.22', family: 4, port: 80 }, timeoutMs: 3000, method: 'GET', path: '/',
      status: [{ from: 200, to: 299 }], tlsVerify: true, tlsName: 'rs.example' } },
  ], "a real server's own checks replace the virtual server's");
});

test('no checks: servers carry an empty list and the keepalived defaults', (t) => {
  const [v] = parse('  - { address: 192.0.2.100, port: 80, lb_kind: dr, real_servers: [{ address: 192.0.2.21 }] }\n');
  t.like(v, { slowStartMs: 0, quorum: 1, hysteresis: 0 });
  t.deepEqual(v!.realServers[0]!.checks, []);
  t.is(v!.sorryServer, undefined);
});

const BAD: Array<[string, string, string[]]> = [
  ['unknown checker field', WEB('      - { type: http, pathh: /x }\n'),
    ["duet.yaml:9:23 virtual_servers[0].checks[0].pathh: unknown field 'pathh' (did you mean 'path'?)"]],
  ['a field of another checker', WEB('      - { type: tcp, path: /x }\n'),
    ["duet.yaml:9:22 virtual_servers[0].checks[0].path: unknown field 'path'"]],
  ['timeout longer than the interval', WEB('      - { type: http, interval: 1, timeout: 5 }\n'),
    ['duet.yaml:9:45 virtual_servers[0].checks[0].timeout: 5 s is longer than interval (1 s): checks would overlap']],
  ['retry delay shorter than the timeout', WEB('      - { type: tcp, timeout: 2, retry_delay: 0.5 }\n'),
    ['duet.yaml:9:47 virtual_servers[0].checks[0].retry_delay: 0.5 s is shorter than timeout (2 s): retries would overlap']],
  ['zero and negative times', WEB('      - { type: tcp, interval: 0, timeout: -1 }\n'),
    ['duet.yaml:9:32 virtual_servers[0].checks[0].interval: must be 0.05..86400 seconds, got 0',
      'duet.yaml:9:44 virtual_servers[0].checks[0].timeout: must be 0.01..3600 seconds, got -1']],
  ['unknown type', WEB('      - { type: htp }\n'),
    ["duet.yaml:9:17 virtual_servers[0].checks[0].type: type must be one of tcp, http, https, exec, agent, udp, ping, dns, smtp, file, got 'htp'"]],
  ['a bare word instead of a mapping', WEB('      - tcp\n'),
    ["duet.yaml:9:9 virtual_servers[0].checks[0]: expected a check mapping {type, ...}, got 'tcp'"]],
  ['bad status, digest, regex, boolean', WEB("      - { type: https, status: ['500-400'], digest: abc, body_regex: '(', tls_verify: yes }\n"),
    ["duet.yaml:9:33 virtual_servers[0].checks[0].status[0]: expected a status code 100..599 or a range such as '200-299', got '500-400'",
      "duet.yaml:9:53 virtual_servers[0].checks[0].digest: must be 32 hex digits (an MD5), got 'abc'",
      "duet.yaml:9:70 virtual_servers[0].checks[0].body_regex: must be a regular expression in RE2 syntax (no backreferences or lookaround), got '(': missing closing ): `(`",
      "duet.yaml:9:87 virtual_servers[0].checks[0].tls_verify: expected true or false, got 'yes'"]],
  ['a port-less real server needs connect_port', '  - fwmark: 5\n    lb_kind: dr\n    checks: [{ type: tcp }]\n    real_servers: [{ address: 192.0.2.21 }, { address: 192.0.2.22 }]\n',
    ['duet.yaml:7:14 virtual_servers[0].checks[0].connect_port: missing: the real server has no port (fwmark or port 0), so the check needs connect_port']],
  ['quorum, sorry server, latency bounds', WEB('      - { type: tcp }\n', "    quorum: 2\n    hysteresis: 2\n    sorry_server: { address: '2001:db8::1' }\n    latency_weight: { good_ms: 100, bad_ms: 50 }\n"),
    ['duet.yaml:11:17 virtual_servers[0].hysteresis: must be less than quorum (2), got 2: quorum could never be lost',
      'duet.yaml:12:30 virtual_servers[0].sorry_server.address: is IPv6 but the virtual server is IPv4',
      'duet.yaml:13:45 virtual_servers[0].latency_weight.bad_ms: must be greater than good_ms (100), got 50']],
  ['empty exec command', WEB('      - { type: exec, command: [] }\n'),
    ['duet.yaml:9:32 virtual_servers[0].checks[0].command: must not be empty']],
];

for (const [name, yaml, want] of BAD) {
  test(`rejected: ${name}`, (t) => {
    t.deepEqual(issues(yaml), want);
  });
}
