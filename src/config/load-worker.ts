// Parse a large config file on a worker thread. A 10,000-server file takes 1-3 s to parse on these
// cores (most of it building the YAML document); on the main thread that would stop VRRP adverts
// for as long, long enough for a peer with short adverts to take over during a reload. The result
// comes back by structured clone (the config is plain data: objects, arrays, RegExp).
import { stat } from 'node:fs/promises';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from './load.js';
import { realScriptHost } from '../core/script-run.js';
import type { Result } from '../core/result.js';
import type { Config } from './schema.js';
import type { ConfigIssue } from './load.js';

/**
 * Below this size a file is parsed on the main thread: that takes milliseconds, while a worker
 * must load the parser first (~0.2 s here, tens of seconds under emulation).
 */
export const OFF_THREAD_MIN_BYTES = 64 * 1024;

/**
 * loadConfig(file) off the main thread if it is large; if the worker cannot run, on this thread.
 * checkScripts: with the real script host (script security, scripts.user), as the daemon loads.
 */
export async function loadConfigOffThread(file: string, o: { minBytes?: number; checkScripts?: boolean } = {}): Promise<Result<Config, ConfigIssue[]>> {
  const checkScripts = o.checkScripts ?? false;
  const load = (): Promise<Result<Config, ConfigIssue[]>> => loadConfig(file, checkScripts ? { scriptHost: realScriptHost } : {});
  const size = await stat(file).then((st) => st.size, () => 0);
  if (size < (o.minBytes ?? OFF_THREAD_MIN_BYTES)) return load();
  return new Promise((resolve) => {
    let done = false;
    const fallback = (): void => { if (!done) { done = true; resolve(load()); } };
    let w: Worker;
    try {
      w = new Worker(new URL(import.meta.url), { workerData: { file, checkScripts } });
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
  const d = workerData as { file: string; checkScripts?: boolean };
  void loadConfig(d.file, d.checkScripts === true ? { scriptHost: realScriptHost } : {}).then((r) => port.postMessage(r));
}
