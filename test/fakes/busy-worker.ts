// The real check worker, overloaded on purpose: every DUET_TEST_BUSY_EVERY_MS this thread spins
// for DUET_TEST_BUSY_MS (as a worker past capacity, or a long task, would), so check timers and
// answers wait behind it. Checks must run late and say so, not fail.
import '../../src/check/worker.js';

const busy = Number(process.env['DUET_TEST_BUSY_MS'] ?? 0);
const every = Number(process.env['DUET_TEST_BUSY_EVERY_MS'] ?? 0);
if (busy > 0 && every > 0) {
  setInterval(() => {
    const end = performance.now() + busy;
    while (performance.now() < end) { /* busy */ }
  }, every);
}
