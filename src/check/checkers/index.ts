// One entry point for the scheduler: run a check of any kind.
import type { CheckResult, CheckSpec } from '../types.js';
import { agentCheck } from './agent.js';
import { dnsCheck } from './dns.js';
import { execCheck } from './exec.js';
import { fileCheck } from './file.js';
import { httpCheck } from './http.js';
import { pingCheck } from './ping.js';
import { smtpCheck } from './smtp.js';
import { nativeTcpCheck } from './tcp-native.js';
import { udpCheck } from './udp.js';

export { agentCheck, parseAgentAnswer, describeAnswer } from './agent.js';
export { dnsCheck } from './dns.js';
export { execCheck } from './exec.js';
export { fileCheck } from './file.js';
export { httpCheck } from './http.js';
export { pingCheck } from './ping.js';
export { smtpCheck } from './smtp.js';
export { tcpCheck } from './tcp.js';
export { nativeTcpCheck, tcpCheckKind } from './tcp-native.js';
export { udpCheck } from './udp.js';

/** Runs one check; like every checker it never rejects. */
export function runCheck(spec: CheckSpec, signal: AbortSignal): Promise<CheckResult> {
  switch (spec.type) {
    // The native connect core when it is built, else net.Socket (tcp.ts).
    case 'tcp': return nativeTcpCheck(spec, signal);
    case 'http':
    case 'https': return httpCheck(spec, signal);
    case 'exec': return execCheck(spec, signal);
    case 'agent': return agentCheck(spec, signal);
    case 'udp': return udpCheck(spec, signal);
    case 'ping': return pingCheck(spec, signal);
    case 'dns': return dnsCheck(spec, signal);
    case 'smtp': return smtpCheck(spec, signal);
    case 'file': return fileCheck(spec, signal);
  }
  // Unreachable for well-typed specs; a result rather than a throw if config ever lets one by.
  const type = (spec as { type?: unknown }).type;
  return Promise.resolve({ ok: false, latencyMs: 0, reason: `unknown check type ${String(type)}` });
}
