// Secrets never printed: VRRPv2 passwords (config `auth.password`, the runtime's authPassword,
// a received advert's authData) and any field named password, secret or key are replaced in
// log lines, and config errors about them never quote what was written.

export const SECRET_FIELDS: readonly string[] = ['password', 'secret', 'key', 'authPassword', 'authData'];
export const REDACTED = '[redacted]';

export function isSecretField(name: unknown): boolean {
  return typeof name === 'string' && SECRET_FIELDS.includes(name);
}

/** Whether a config path (vrrp.instances[0].auth.password) holds or is inside a secret, or is `auth` itself. */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  return path.some((seg) => isSecretField(seg) || seg === 'auth');
}

/**
 * pino `redact` paths: a secret field anywhere from the top of a log line's data down to `depth`
 * levels (objects or list items), e.g. config.vrrp.instances[0].auth.password.
 */
export function redactPaths(depth = 6): string[] {
  const out: string[] = [];
  for (const name of SECRET_FIELDS) for (let d = 0, p = name; d <= depth; d++, p = `*.${p}`) out.push(p);
  return out;
}
