// Preload for the bench (`NODE_OPTIONS=--import=<this file's URL>`): keeps the host process's
// event loop busy without touching its source. Every DUET_LAB_IDLE_MS (default 20) it spins
// synchronously for a uniformly random 0..DUET_LAB_BLOCK_MS (default 20) ms, so timers and socket
// callbacks of the process run late by up to that much, about a third of the time busy.
const block = Number(process.env['DUET_LAB_BLOCK_MS'] ?? 20);
const idle = Number(process.env['DUET_LAB_IDLE_MS'] ?? 20);

function spin(): void {
  const until = performance.now() + Math.random() * block;
  while (performance.now() < until) { /* busy */ }
  setTimeout(spin, idle).unref();
}

if (block > 0) setTimeout(spin, idle).unref();

export {};
