// A daemon as the metrics see it (MetricsSource), idle: no instances, no checks, no IPVS. Tests
// override what they look at.
import type { MetricsSource } from '../../src/metrics/metrics.js';
import { checkFamiliesText } from '../../src/check/prom-text.js';

export function idleMetricsSource(o: Partial<MetricsSource> = {}): MetricsSource {
  return {
    status: () => ({ instances: [], sockets: [], operator: {}, checkWorker: undefined }) as never,
    checkMetricsText: () => checkFamiliesText([]),
    checkLatency: async () => [],
    ipvsStats: async () => undefined,
    reconcileCounters: () => ({ reconciles: 0, reconcileErrors: 0, ops: {}, opFailures: 0 }),
    onEvent: () => () => {},
    ...o,
  };
}
