// Operator overrides (pure) and the control protocol's parsing of operator requests.
import test from 'ava';
import { refusal, withOverride } from '../../src/daemon/operator.js';
import { parseRequest } from '../../src/control/protocol.js';
import type { InstanceSettings } from '../../src/vrrp/instance.js';

const S = { priority: 150, preempt: false, preemptDelayMs: 5000 } as InstanceSettings;

test('failover and maintenance advertise priority 1; takeover 254 with preemption; owners are never changed', (t) => {
  t.like(withOverride(S, { mode: 'failover', sticky: false, since: 0 }), { priority: 1, preempt: false });
  t.like(withOverride(S, { mode: 'maintenance', sticky: true, since: 0 }), { priority: 1 });
  t.like(withOverride(S, { mode: 'takeover', sticky: false, since: 0 }), { priority: 254, preempt: true, preemptDelayMs: 0 });
  t.is(withOverride(S, undefined), S);
  const owner = { ...S, priority: 255 };
  t.is(withOverride(owner, { mode: 'failover', sticky: false, since: 0 }), owner);
});

test('refusals name the reason', (t) => {
  const st = (state: string, o: Partial<Parameters<typeof refusal>[1]> = {}) => ({ state, configuredPriority: 100, masterAddress: '192.0.2.11', masterPriority: 150, ...o });
  t.is(refusal('failover', st('master')), undefined);
  t.is(refusal('failover', st('backup')), 'it is backup, not master: nothing to hand over');
  t.is(refusal('failover', st('master', { configuredPriority: 255 })), 'this node is the address owner (priority 255): peers never take over from an owner');
  t.is(refusal('takeover', st('backup')), undefined);
  t.is(refusal('takeover', st('master')), 'it is master already');
  t.is(refusal('takeover', st('fault')), 'it is fault: only a backup can take over');
  t.is(refusal('takeover', st('backup', { masterPriority: 255 })), 'the master (192.0.2.11) is the address owner (priority 255)');
});

test('operator requests: accepted shapes and clear errors', (t) => {
  t.deepEqual(parseRequest('{"cmd":"failover","instances":"all"}'), { cmd: 'failover', instances: 'all' });
  t.deepEqual(parseRequest('{"cmd":"takeover","instances":["VI_1"],"sticky":true,"timeoutMs":2000}'), { cmd: 'takeover', instances: ['VI_1'], sticky: true, timeoutMs: 2000 });
  t.deepEqual(parseRequest('{"cmd":"maintenance","on":false}'), { cmd: 'maintenance', on: false });
  t.deepEqual(parseRequest('{"cmd":"failover","instances":[]}'), { error: '"instances" must be "all" or a list of instance names' });
  t.deepEqual(parseRequest('{"cmd":"failover","instances":"all","sticky":"yes"}'), { error: '"sticky" must be true or false' });
  t.deepEqual(parseRequest('{"cmd":"failover","instances":"all","timeoutMs":0}'), { error: '"timeoutMs" must be 1..600000' });
  t.deepEqual(parseRequest('{"cmd":"maintenance"}'), { error: '"on" (true or false) is required' });
});

// Every error class carries a code from the one registry in core/errors.ts.
test('error classes derive from DuetError with a registered code', async (t) => {
  const { ERROR_CODES, DuetError, IoError, BugError } = await import('../../src/core/errors.js');
  const { ConnParseError } = await import('../../src/ipvs/conns.js');
  const { OperatorError } = await import('../../src/daemon/operator-actions.js');
  const { ConfigError } = await import('../../src/config/load.js');
  const errors: InstanceType<typeof DuetError>[] = [new IoError('x'), new BugError('x'), new ConnParseError(1, 'l', 'r'), new OperatorError('DUET_E_NO_PEER', 'x'),
    new ConfigError([])];
  for (const e of errors) {
    t.true(e instanceof DuetError, e.name);
    t.true(Object.hasOwn(ERROR_CODES, e.code), `${e.name}: ${e.code}`);
  }
});
