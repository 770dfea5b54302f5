// The real check worker, started late: this thread spins for DUET_TEST_SLOW_START_MS before it
// loads the worker (as module loading does on a starved CPU), for the start-up grace test.
const ms = Number(process.env['DUET_TEST_SLOW_START_MS'] ?? 0);
const end = Date.now() + ms;
while (Date.now() < end) { /* loading */ }
await import('../../src/check/worker.js');
