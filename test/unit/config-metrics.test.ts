// Config layer, metrics: the listen address forms and the errors for bad ones.
import test from 'ava';
import { formatIssue, parseConfig } from '../../src/config/load.js';

const VRRP = 'vrrp:\n  instances:\n    - { name: VI_1, interface: eth0, vrid: 51, virtual_ipaddress: [192.0.2.100/24] }\n';
const parse = (m: string) => parseConfig(`${VRRP}metrics: ${m}\n`, 'duet.yaml');

test('listen forms: IPv4, bracketed IPv6, all addresses only when written, no host = loopback; off when absent', (t) => {
  const ok = (m: string) => { const r = parse(m); return r.ok ? r.value.metrics : r.error.map(formatIssue); };
  t.deepEqual(ok("{ listen: '127.0.0.1:9469' }"), { listen: { host: '127.0.0.1', port: 9469 }, path: '/metrics', ipvsCacheMs: 1000 });
  t.deepEqual(ok("{ listen: '[::1]:9100', path: /m }"), { listen: { host: '::1', port: 9100 }, path: '/m', ipvsCacheMs: 1000 });
  t.deepEqual(ok("{ listen: ':9469' }"), { listen: { host: '127.0.0.1', port: 9469 }, path: '/metrics', ipvsCacheMs: 1000 }, 'no host: loopback, not every address');
  t.deepEqual(ok("{ listen: '0.0.0.0:9469' }"), { listen: { host: '0.0.0.0', port: 9469 }, path: '/metrics', ipvsCacheMs: 1000 });
  t.deepEqual(ok("{ listen: '[::]:9469', ipvs_cache_ms: 0 }"), { listen: { host: '::', port: 9469 }, path: '/metrics', ipvsCacheMs: 0 });
  const r = parseConfig(VRRP, 'duet.yaml');
  t.is(r.ok && r.value.metrics, undefined);
});

test('bad listen addresses and unknown fields are positioned errors', (t) => {
  const bad = (m: string) => { const r = parse(m); return r.ok ? [] : r.error.map(formatIssue); };
  t.deepEqual(bad("{ listen: '9469' }"), ["duet.yaml:4:20 metrics.listen: expected ADDRESS:PORT such as '127.0.0.1:9469', '[::1]:9469' or ':9469', got '9469'"]);
  t.deepEqual(bad("{ listen: ':70000' }"), ["duet.yaml:4:20 metrics.listen: expected ADDRESS:PORT such as '127.0.0.1:9469', '[::1]:9469' or ':9469', got ':70000'"]);
  t.deepEqual(bad("{ listen: ':9469', lisen: x }"), ["duet.yaml:4:29 metrics.lisen: unknown field 'lisen' (did you mean 'listen'?)"]);
  t.deepEqual(bad("{ listen: ':9469', ipvs_cache_ms: -1 }"), ['duet.yaml:4:44 metrics.ipvs_cache_ms: must be 0..60000, got -1']);
});
