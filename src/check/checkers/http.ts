// HTTP_GET / SSL_GET: one request on a fresh connection (no agent, `Connection: close`: nothing
// is reused between checks, so every check proves connect + TLS + response), judged on the
// status and optionally the body (a regex, matched in linear time, and/or keepalived-style MD5 of
// the whole body).
//
// Per spec, everything that does not change between runs (request options, headers, compiled
// regex) is prepared once and kept in a WeakMap; regexes are also cached by source text so a
// reload that rebuilds the specs does not recompile them.
//
// A plain-HTTP GET or HEAD judged on its status alone (no body check) runs on the native connect
// core when it is built (tcp-native.ts): it sends the same request head and reads the response
// head only, with the same reasons (status N, closed, bad response, the errno), without node:http.
import { compileLinearRegex, type LinearRegex } from '../../core/linear-regex.js';
import { createHash, type Hash } from 'node:crypto';
import { request, type ClientRequest, type ClientRequestArgs, type IncomingMessage, type RequestOptions } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import type { CheckResult, HttpCheckSpec } from '../types.js';
import { Probe, errnoReason, isErrnoCode, probeOf, tag } from './probe.js';
import { CORE_BAD, CORE_CLOSED, CoreProbe, coreTakes, reasonOf, tcpCore } from './tcp-native.js';

/** Bodies are read up to this many bytes, and only when a body check is configured. */
export const MAX_BODY_BYTES = 1024 * 1024;

interface Prepared {
  readonly options: RequestOptions & ConnectionOptions;
  /** undefined: no regex; null: the source does not compile. */
  readonly regex: LinearRegex | null | undefined;
  readonly digest: string | undefined;
  /** The request head for the native core, when this check can run there. */
  readonly head: Buffer | undefined;
}

const prepared = new WeakMap<HttpCheckSpec, Prepared>();

class HttpProbe extends Probe {
  private req: ClientRequest | undefined;
  private res: IncomingMessage | undefined;
  private bytes = 0;
  private chunks: Buffer[] | undefined;
  private hash: Hash | undefined;

  constructor(private readonly spec: HttpCheckSpec, private readonly prep: Prepared) { super(); }

  protected begin(): void {
    if (this.prep.regex === null) { this.finish(false, 'bad regex'); return; }
    const req = request(this.prep.options);
    this.req = req;
    tag(req, this);
    req.on('error', onReqError);
    req.once('response', onResponse);
    req.end();
  }

  failed(err: Error): void { this.finish(false, httpErrorReason(err, this.spec.type === 'https')); }

  response(res: IncomingMessage): void {
    this.res = res;
    const code = res.statusCode ?? 0;
    if (!statusOk(this.spec, code)) { this.finish(false, `status ${code}`); return; }
    // No body check: the status decides; the body is not read at all.
    if (this.prep.regex === undefined && this.prep.digest === undefined) { this.finish(true, `status ${code}`); return; }
    if (this.prep.regex !== undefined) this.chunks = [];
    if (this.prep.digest !== undefined) this.hash = createHash('md5');
    tag(res, this);
    res.on('data', onData);
    res.once('end', onEnd);
    res.on('error', onResError);
    res.once('close', onResClose);
  }

  data(chunk: Buffer): void {
    if (this.finished) return;
    this.bytes += chunk.length;
    if (this.bytes > MAX_BODY_BYTES) { this.finish(false, 'body too large'); return; }
    this.chunks?.push(chunk);
    this.hash?.update(chunk);
  }

  end(): void {
    if (this.finished) return;
    const code = this.res?.statusCode ?? 0;
    const { regex, digest } = this.prep;
    if (regex && !regex.test(Buffer.concat(this.chunks!).toString('utf8'))) { this.finish(false, 'body mismatch'); return; }
    if (digest !== undefined && this.hash!.digest('hex') !== digest) { this.finish(false, 'digest mismatch'); return; }
    this.finish(true, `status ${code}`);
  }

  protected release(): void {
    this.chunks = undefined;
    this.res?.destroy();
    this.req?.destroy();
  }
}

function onReqError(this: ClientRequest, err: Error): void { probeOf<HttpProbe>(this).failed(err); }
function onResponse(this: ClientRequest, res: IncomingMessage): void { probeOf<HttpProbe>(this).response(res); }
function onData(this: IncomingMessage, chunk: Buffer): void { probeOf<HttpProbe>(this).data(chunk); }
function onEnd(this: IncomingMessage): void { probeOf<HttpProbe>(this).end(); }
function onResError(this: IncomingMessage, err: Error): void { probeOf<HttpProbe>(this).failed(err); }
/** Closed before 'end': the connection went away mid-body (no-op once finished). */
function onResClose(this: IncomingMessage): void { probeOf<HttpProbe>(this).finish(false, 'reset'); }

function statusOk(spec: HttpCheckSpec, code: number): boolean {
  for (const r of spec.status) if (code >= r.from && code <= r.to) return true;
  return false;
}

/** Reason for a request error; https errors that are not errno or HTTP-parser errors are TLS's. */
export function httpErrorReason(err: Error, https: boolean): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && code.startsWith('HPE_')) return 'bad response';
  // The server closed without a (complete) response head: Node says ECONNRESET "socket hang up".
  if (code === 'ECONNRESET' && err.message === 'socket hang up') return 'closed';
  if (https && code === 'EPROTO') return `tls: ${sslCode(err.message)}`;
  if (isErrnoCode(code) || !https) return errnoReason(err);
  return `tls: ${typeof code === 'string' ? code : 'error'}`;
}

/**
 * A handshake failure seen by the request's first write comes as "write EPROTO ...:SSL
 * routines:<function>:<reason>:..."; name it as tls.connect would (ERR_SSL_<REASON>) so one
 * failure has one reason whichever side noticed it.
 */
function sslCode(message: string): string {
  const m = /SSL routines:[^:]*:([^:]+):/.exec(message);
  return m ? `ERR_SSL_${m[1]!.trim().toUpperCase().replace(/\W+/g, '_')}` : 'EPROTO';
}

/** A status-only plain HTTP check on the native core: the response head's status decides. */
class NativeHttpProbe extends CoreProbe {
  constructor(core: NonNullable<ReturnType<typeof tcpCore>>, private readonly spec: HttpCheckSpec, head: Buffer) { super(core, spec.target, head); }

  settle(err: number, status: number): void {
    if (err === CORE_CLOSED) this.finish(false, 'closed');
    else if (err === CORE_BAD) this.finish(false, 'bad response');
    else if (err !== 0) this.finish(false, reasonOf(err));
    else this.finish(statusOk(this.spec, status), statusReason(status));
  }
}

/** "status N", one string per code (not a new one per result: the engine keeps it an interval). */
const statusReasons: string[] = [];
const statusReason = (code: number): string => (statusReasons[code] ??= `status ${code}`);

function preparedFor(spec: HttpCheckSpec): Prepared {
  let prep = prepared.get(spec);
  if (prep === undefined) { prep = prepare(spec); prepared.set(spec, prep); }
  return prep;
}

/** Where a check runs: on the native core (status-only plain GET/HEAD, core built) or node:http. */
export function httpCheckRunsOn(spec: HttpCheckSpec): 'core' | 'node:http' {
  return preparedFor(spec).head !== undefined && tcpCore() !== null ? 'core' : 'node:http';
}

export function httpCheck(spec: HttpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const prep = preparedFor(spec);
  const core = prep.head === undefined ? null : tcpCore();
  if (core !== null) return new NativeHttpProbe(core, spec, prep.head!).run(signal, spec.timeoutMs);
  return new HttpProbe(spec, prep).run(signal, spec.timeoutMs);
}

function prepare(spec: HttpCheckSpec): Prepared {
  const t = spec.target;
  const https = spec.type === 'https';
  const host = spec.host ?? defaultHost(t.address, t.family, t.port, https ? 443 : 80);
  const options: RequestOptions & ConnectionOptions = {
    host: t.address,
    port: t.port,
    family: t.family,
    method: spec.method,
    path: spec.path,
    headers: { Host: host, 'User-Agent': 'duet-check', Connection: 'close' },
    // No agent: Node opens a fresh connection with this and sends Connection: close. Unlike
    // `agent: false` it does not construct a throwaway Agent per request.
    createConnection: https ? connectTls : connectPlain,
  };
  if (t.bindAddress !== undefined) options.localAddress = t.bindAddress;
  if (https) addTls(options, spec, host);
  const statusOnly = !https && spec.bodyRegex === undefined && spec.bodyDigest === undefined && (spec.method === 'GET' || spec.method === 'HEAD');
  return {
    options,
    regex: spec.bodyRegex === undefined ? undefined : compileRegex(spec.bodyRegex),
    digest: spec.bodyDigest?.toLowerCase(),
    // The head node:http sends for these options (headers in this order, no body).
    head: statusOnly && coreTakes(t) && isSafePath(spec.path) && isSafeHeader(host)
      ? Buffer.from(`${spec.method} ${spec.path} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: duet-check\r\nConnection: close\r\n\r\n`, 'latin1')
      : undefined,
  };
}

/** A path node:http would send as is (it refuses others with ERR_UNESCAPED_CHARACTERS: tcp path keeps that reason). */
function isSafePath(p: string): boolean { return /^[\x21-\x7e]+$/.test(p); }
function isSafeHeader(v: string): boolean { return /^[\x20-\x7e]*$/.test(v); }

/** Host header default: the address ([v6] bracketed), with :port unless the scheme's default. */
export function defaultHost(address: string, family: 4 | 6, port: number, schemePort: number): string {
  const a = family === 6 || address.includes(':') ? `[${address}]` : address;
  return port === schemePort ? a : `${a}:${port}`;
}

/** SNI and the verified name: tlsName, else the Host header without its port. */
function addTls(options: ConnectionOptions, spec: HttpCheckSpec, host: string): void {
  const name = spec.tlsName ?? hostName(host);
  options.rejectUnauthorized = spec.tlsVerify;
  // SNI must not be an IP (RFC 6066; Node warns); Node then verifies against `host` instead.
  if (isIP(name) === 0) options.servername = name;
  else if (name !== spec.target.address) options.checkServerIdentity = identityOf(name);
}

function identityOf(name: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => checkServerIdentity(name, cert);
}

/** "[::1]:8443" -> "::1", "www.example:8080" -> "www.example". */
function hostName(host: string): string {
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    return close > 0 ? host.slice(1, close) : host;
  }
  const colon = host.indexOf(':');
  // Two or more colons: a bare IPv6 address, no port.
  return colon >= 0 && host.indexOf(':', colon + 1) < 0 ? host.slice(0, colon) : host;
}

type ConnOpts = ClientRequestArgs & ConnectionOptions;

// Node passes a copy of the request options (path cleared); forward only what connect needs.
function connectPlain(args: ClientRequestArgs): Socket {
  const o = args as ConnOpts;
  return netConnect({ host: o.host!, port: Number(o.port), family: o.family ?? 0, localAddress: o.localAddress });
}

function connectTls(args: ClientRequestArgs): Socket {
  const o = args as ConnOpts;
  // tls.connect hands these options to net's connect, which honours localAddress (@types omit it).
  const c: ConnectionOptions & { localAddress?: string | undefined } = {
    host: o.host!, port: Number(o.port), localAddress: o.localAddress,
    servername: o.servername, rejectUnauthorized: o.rejectUnauthorized,
  };
  // Only when set: an undefined key would override tls.connect's default checker.
  if (o.checkServerIdentity) c.checkServerIdentity = o.checkServerIdentity;
  return tlsConnect(c);
}

const MAX_CACHED_REGEXES = 1024;
const regexCache = new Map<string, LinearRegex | null>();

/** Compiled once per source text; null when it does not compile (the check then fails). */
export function compileRegex(source: string): LinearRegex | null {
  let re = regexCache.get(source);
  if (re !== undefined) return re;
  try { re = compileLinearRegex(source); } catch { re = null; }
  // Sources come from config, so the cache only grows across many reloads: start over then.
  if (regexCache.size >= MAX_CACHED_REGEXES) regexCache.clear();
  regexCache.set(source, re);
  return re;
}
