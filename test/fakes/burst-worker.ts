// A stand-in check worker for the host's event delivery test: on configure it sends
// DUET_TEST_BURST weight events (server i of the first service: weight i % 7) in one message, as
// the real worker does when a thousand checks change together, then answers the configure with
// the verdicts before them. It answers pings and stop; nothing else is needed.
import { parentPort } from 'node:worker_threads';
import type { CheckEvent, ServiceVerdicts } from '../../src/check/engine.js';
import type { FromWorker, ToWorker } from '../../src/check/host.js';
import { serviceKey } from '../../src/ipvs/model.js';

const port = parentPort!;
const n = Number(process.env['DUET_TEST_BURST'] ?? 1000);
port.on('message', (m: ToWorker) => {
  if (m.type === 'configure') {
    const svc = m.list[0]!;
    const key = serviceKey(svc);
    const verdicts = new Map<string, ServiceVerdicts>([[key, { quorumUp: true, dests: new Map() }]]);
    port.postMessage({ type: 'reply', id: m.id, value: verdicts } satisfies FromWorker);
    const events: CheckEvent[] = Array.from({ length: n }, (_, i) => ({ kind: 'weight', service: key, server: `10.0.${i >> 8}.${i & 255}:80`, from: undefined, to: i % 7, reason: 'burst' }));
    port.postMessage({ type: 'events', events } satisfies FromWorker);
  } else if (m.type === 'ping') port.postMessage({ type: 'reply', id: m.id, value: { lateRuns: 0, discounted: 0, behindMs: 0 } } satisfies FromWorker);
  else if (m.type === 'stop') { port.postMessage({ type: 'reply', id: m.id, value: true } satisfies FromWorker); port.close(); }
});
