// Socket option numbers (<linux/in.h>, <asm-generic/socket.h>) and the subset of the raw-socket
// addon's API that duet uses (it ships no types). Shared by the transport and the lab injector.
import type { EventEmitter } from 'node:events';

export const SOL_SOCKET = 1;
export const SO_BINDTODEVICE = 25;
export const IPPROTO_IP = 0;
export const IP_TOS = 1;
export const IP_TTL = 2;
export const IP_HDRINCL = 3;
export const IP_MULTICAST_IF = 32;
export const IP_MULTICAST_TTL = 33;
export const IP_MULTICAST_LOOP = 34;
export const IP_ADD_MEMBERSHIP = 35;
export const IP_MULTICAST_ALL = 49;

export interface RawSocket extends EventEmitter {
  send(
    buf: Buffer, offset: number, length: number, address: string,
    after: (err: Error | null, bytes: number) => void,
  ): RawSocket;
  setOption(level: number, option: number, value: number | Buffer, length?: number): void;
  close(): RawSocket;
  pauseRecv(): RawSocket;
  /**
   * The native socket. send() calls sendto(2) at once (the socket is non-blocking: EAGAIN throws)
   * and the callback synchronously; the JS send() above queues until the poll says writable.
   */
  wrap?: {
    recv(buf: Buffer, cb: (b: Buffer, n: number, src: string) => void): unknown;
    send?(buf: Buffer, offset: number, length: number, address: string, cb: (bytes: number) => void): unknown;
  };
  /** raw-socket's queue of sends waiting for the socket to be writable. */
  requests?: unknown[];
}

export interface RawSocketModule {
  createSocket(o: { protocol: number; addressFamily?: number; bufferSize?: number }): RawSocket;
  AddressFamily: { IPv4: number; IPv6: number };
}
