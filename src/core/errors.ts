// Every error duet reports has a stable code from this one registry (as undici's errors do):
// thrown errors carry it, control replies carry it, the CLI prints it, tests match it.
export const ERROR_CODES = {
  DUET_E_IO: 'a system call or netlink request failed',
  DUET_E_BUG: 'something that must not happen did',
  DUET_E_CONFIG: 'the config file is invalid; nothing was changed',
  DUET_E_RELOAD: 'the new config cannot be applied on this host; nothing was changed',
  DUET_E_CONN_PARSE: 'a line of /proc/net/ip_vs_conn could not be read',
  DUET_E_REQUEST: 'the control request is malformed',
  DUET_E_INTERNAL: 'the daemon failed while answering a request',
  DUET_E_READONLY: 'the read-only status socket refuses this command',
  DUET_E_BUSY: 'the control socket has too many connections',
  DUET_E_SLOW_CLIENT: 'the client did not read what the daemon sent; it was dropped',
  DUET_E_RUNNING: 'another duet daemon holds this state directory',
  DUET_E_NO_SUPERVISOR: 'duet restart outside systemd needs --supervised',
  DUET_E_NO_INSTANCE: 'no VRRP instance by that name',
  DUET_E_STATE: 'the instance is not in a state that allows the command',
  DUET_E_NO_PEER: 'no peer took over within the time allowed',
  DUET_E_NO_TAKEOVER: 'the master did not give way within the time allowed',
  DUET_E_NO_SERVER: 'no such virtual or real server',
  DUET_E_NO_VIP: 'no VIP in bgp mode by that address',
  DUET_E_IPVS: 'the kernel IPVS table could not be updated',
  DUET_E_DRAIN_TIMEOUT: 'a drained real server still has active connections',
  DUET_E_SCRIPT_REFUSED: 'a program was not run: a non-root user could change it (script security), or its script user does not exist',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Thrown only for bugs, adapter I/O failures and refused commands; `code` is stable. */
export abstract class DuetError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A system call or netlink request failed. */
export class IoError extends DuetError {
  readonly code = 'DUET_E_IO';
}

/** A valid config that this host cannot run (an interface it names is missing); nothing changed. */
export class ReloadError extends DuetError {
  readonly code = 'DUET_E_RELOAD';
}

/** Something that must not happen did. */
export class BugError extends DuetError {
  readonly code = 'DUET_E_BUG';
}
