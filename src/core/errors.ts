// Thrown only for bugs and adapter I/O failures; every error has a stable code tests can match.
export abstract class DuetError extends Error {
  abstract readonly code: `DUET_E_${string}`;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A system call or netlink request failed. */
export class IoError extends DuetError {
  readonly code = 'DUET_E_IO';
}

/** Something that must not happen did. */
export class BugError extends DuetError {
  readonly code = 'DUET_E_BUG';
}
