// One IPVS dump for many readers: the metrics of one scrape, concurrent scrapes from several
// Prometheus servers, and scrapes within a short window all read the same dump instead of each
// walking the kernel table (a large table is a large netlink dump).

/**
 * Wraps `fetch` so that callers while a call is under way share it, and its result is reused
 * for `ttlMs()` after that call began (0: only the sharing). A rejection is handed to the
 * callers that shared it and never kept. `now` is a monotonic clock in milliseconds.
 */
export function sharedFetch<T>(fetch: () => Promise<T>, ttlMs: () => number, now: () => number): () => Promise<T> {
  let inflight: Promise<T> | undefined;
  let kept: { value: T; at: number } | undefined;
  return () => {
    if (kept && now() - kept.at < ttlMs()) return Promise.resolve(kept.value);
    if (inflight) return inflight;
    const at = now();
    const p = fetch().then((value) => { kept = { value, at }; return value; });
    inflight = p;
    const clear = (): void => { if (inflight === p) inflight = undefined; };
    p.then(clear, clear);
    return p;
  };
}
