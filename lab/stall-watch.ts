// Preload for the benchmarks (`node --import=<this file's URL>`): reports the main thread's event
// loop stalls without touching the daemon's source. A 2 ms timer notes when it ran; a turn that
// came more than DUET_LAB_STALL_MS (default 15) late is written to stderr as one JSON line
// {"stall": ms, "at": epoch ms when it began, "cpuMs", "waitMs"}: of the stall, how long the
// thread ran on a CPU and how long it was runnable but waiting for one (/proc schedstat); the rest
// it was blocked (asleep in a system call, a page fault, a lock). Only the main thread: workers
// load preloads too and are left alone.
import { readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const limit = Number(process.env['DUET_LAB_STALL_MS'] ?? 15);
const path = `/proc/self/task/${process.pid}/schedstat`;

function sched(): { run: number; wait: number } {
  const f = readFileSync(path, 'utf8').split(' ');
  return { run: Number(f[0]), wait: Number(f[1]) };
}

if (isMainThread) {
  let last = performance.now();
  let s = sched();
  const tick = (): void => {
    const now = performance.now();
    const n = sched();
    if (now - last > limit) {
      process.stderr.write(`${JSON.stringify({ stall: +(now - last).toFixed(1), at: Math.round(performance.timeOrigin + last), cpuMs: +((n.run - s.run) / 1e6).toFixed(1), waitMs: +((n.wait - s.wait) / 1e6).toFixed(1) })}\n`);
    }
    last = now;
    s = n;
    setTimeout(tick, 2).unref();
  };
  setTimeout(tick, 2).unref();
}

export {};
