// Errno names for netlink failures: the number an NLMSG_ERROR carries (netlink/attrs.ts), and the
// name inside an error thrown by npm `netlink` (rtnl.ts, genl.ts); also the advert thread's send
// errors (vrrp/advert-pacer.ts). Pure.

// Linux asm-generic numbers, for messages and IoError.errno.
const ERRNO_NAMES: Readonly<Record<number, string>> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 6: 'ENXIO', 7: 'E2BIG', 9: 'EBADF',
  11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST', 19: 'ENODEV',
  22: 'EINVAL', 23: 'ENFILE', 24: 'EMFILE', 28: 'ENOSPC', 34: 'ERANGE', 36: 'ENAMETOOLONG',
  38: 'ENOSYS', 61: 'ENODATA', 71: 'EPROTO', 75: 'EOVERFLOW', 90: 'EMSGSIZE', 93: 'EPROTONOSUPPORT',
  95: 'EOPNOTSUPP', 97: 'EAFNOSUPPORT', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL', 100: 'ENETDOWN',
  101: 'ENETUNREACH', 105: 'ENOBUFS', 110: 'ETIMEDOUT', 113: 'EHOSTUNREACH', 114: 'EALREADY', 115: 'EINPROGRESS', 524: 'ENOTSUPP',
};

/** 'EEXIST' for 17; 'E<number>' for a number not in the table. */
export const errnoName = (errno: number): string => ERRNO_NAMES[errno] ?? `E${errno}`;

/**
 * The errno name in an error from the netlink package, if any: its `code`, or the name in its
 * message ("Request rejected: ENOENT").
 */
export function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  const m = /Request rejected: (\w+)/.exec(e instanceof Error ? e.message : String(e));
  return m?.[1];
}
