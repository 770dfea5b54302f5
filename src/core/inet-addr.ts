// Textual <-> byte forms of IPv4, IPv6 and MAC addresses. Pure; throws only on malformed
// input, which callers treat as a bug (config validation happens long before).

export const isIpv4 = (a: string): boolean =>
  /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(a) && a.split('.').every((p) => Number(p) <= 255);

export function ipv4Bytes(a: string): Uint8Array {
  if (!isIpv4(a)) throw new TypeError(`not an IPv4 address: ${a}`);
  return Uint8Array.from(a.split('.').map(Number));
}

export const formatIpv4 = (b: Uint8Array, off = 0): string =>
  `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;

/** Parse an IPv6 address (with :: compression and an optional trailing dotted quad) into 16 bytes. */
export function ipv6Bytes(a: string): Uint8Array {
  const bad = (): never => {
    throw new TypeError(`not an IPv6 address: ${a}`);
  };
  let s = a;
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct); // zone index is not part of the address
  const words: number[] = [];
  const parseSide = (side: string): number[] => {
    if (side === '') return [];
    const out: number[] = [];
    const parts = side.split(':');
    parts.forEach((p, i) => {
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = isIpv4(p) ? ipv4Bytes(p) : bad();
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else bad();
    });
    return out;
  };
  const dbl = s.split('::');
  if (dbl.length > 2) bad();
  if (dbl.length === 2) {
    const head = parseSide(dbl[0]!);
    const tail = parseSide(dbl[1]!);
    const fill = 8 - head.length - tail.length;
    if (fill < 1) bad();
    words.push(...head, ...new Array<number>(fill).fill(0), ...tail);
  } else {
    words.push(...parseSide(s));
    if (words.length !== 8) bad();
  }
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

export const isIpv6 = (a: string): boolean => {
  try {
    ipv6Bytes(a);
    return a.includes(':');
  } catch {
    return false;
  }
};

/** RFC 5952 canonical text: lower case, longest run (>= 2) of zero words compressed, first wins. */
export function formatIpv6(b: Uint8Array, off = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((b[off + 2 * i]! << 8) | b[off + 2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestLen < 2) return hex(w);
  return `${hex(w.slice(0, bestStart))}::${hex(w.slice(bestStart + bestLen))}`;
}

export function macBytes(mac: string): Uint8Array {
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new TypeError(`not a MAC address: ${mac}`);
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

export const formatMac = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
