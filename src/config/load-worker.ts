// Parse a large config file on a worker thread. A 10,000-server file takes 1-3 s to parse on these
// cores (most of it building the YAML document); on the main thread that would stop VRRP adverts
// for as long, long enough for a peer with short adverts to take over during a reload. The result
// comes back by structured clone (the config is plain data: objects, arrays, RegExp).
import { stat } from 'node:fs/promises';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from './load.js';
import type { Result } from '../core/result.js';
import type { Config } from './schema.js';
import type { ConfigIssue } from './load.js';

/**
 * Below this size a file is parsed on the main thread: that takes milliseconds, while a worker
 * must load the parser first (~0.2 s here, tens of seconds under emulation).
 */
export const OFF_THREAD_MIN_BYTES = 64 * 1024;

/** loadConfig(file) off the main thread if it is large; if the worker cannot run, on this thread. */
export async function loadConfigOffThread(file: string, o: { minBytes?: number } = {}): Promise<Result<Config, ConfigIssue[]>> {
  const size = await stat(file).then((st) => st.size, () => 0);
  if (size < (o.minBytes ?? OFF_THREAD_MIN_BYTES)) return loadConfig(file);
  return new Promise((resolve) => {
    let done = false;
    const fallback = (): void => { if (!done) { done = true; resolve(loadConfig(file)); } };
    let w: Worker;
    try {
      w = new Worker(new URL(import.meta.url), { workerData: { file } });
    } catch {
      fallback();
      return;
    }
    w.once('message', (r: Result<Config, ConfigIssue[]>) => { done = true; resolve(r); void w.terminate(); });
    w.once('error', fallback);
    w.once('exit', fallback);
  });
}

if (!isMainThread && parentPort && (workerData as { file?: unknown } | null)?.file !== undefined) {
  const port = parentPort;
  void loadConfig((workerData as { file: string }).file).then((r) => port.postMessage(r));
}
