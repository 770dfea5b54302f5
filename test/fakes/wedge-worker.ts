// The real check worker, plus a way to wedge it for the liveness test: once the file named by
// DUET_TEST_WEDGE_FILE exists, this thread removes it and spins forever (as a catastrophic
// regex would in a backtracking engine). The next worker finds no file and runs normally.
import { existsSync, rmSync } from 'node:fs';
import '../../src/check/worker.js';

const flag = process.env['DUET_TEST_WEDGE_FILE'];
if (flag) {
  const t = setInterval(() => {
    if (!existsSync(flag)) return;
    clearInterval(t);
    rmSync(flag, { force: true });
    for (;;) { /* wedged */ }
  }, 20);
}
