// One entry point for the scheduler: run a check of any kind.
import type { CheckResult, CheckSpec } from '../types.js';
import { agentCheck } from './agent.js';
import { execCheck } from './exec.js';
import { httpCheck } from './http.js';
import { tcpCheck } from './tcp.js';

export { agentCheck, parseAgentAnswer, describeAnswer } from './agent.js';
export { execCheck } from './exec.js';
export { httpCheck } from './http.js';
export { tcpCheck } from './tcp.js';

/** Runs one check; like every checker it never rejects. */
export function runCheck(spec: CheckSpec, signal: AbortSignal): Promise<CheckResult> {
  switch (spec.type) {
    case 'tcp': return tcpCheck(spec, signal);
    case 'http':
    case 'https': return httpCheck(spec, signal);
    case 'exec': return execCheck(spec, signal);
    case 'agent': return agentCheck(spec, signal);
  }
  // Unreachable for well-typed specs; a result rather than a throw if config ever lets one by.
  const type = (spec as { type?: unknown }).type;
  return Promise.resolve({ ok: false, latencyMs: 0, reason: `unknown check type ${String(type)}` });
}
