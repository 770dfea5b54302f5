// The Prometheus endpoint: GET <path> → the metrics' text format. Nothing else is served.
import { createServer, type Server } from 'node:http';
import type { DuetMetrics } from './metrics.js';

export async function serveMetrics(o: { host: string; port: number; path: string }, metrics: DuetMetrics, onError: (e: Error) => void): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== o.path) {
      res.writeHead(404).end();
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (e: unknown) => { onError(e as Error); res.writeHead(500).end(); },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => { server.off('error', reject); resolve(); });
  });
  server.on('error', onError);
  return server;
}
