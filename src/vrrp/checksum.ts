// RFC 1071 Internet checksum, over one or more byte ranges as if concatenated.
export function inetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  let odd: number | undefined; // a dangling high byte carried into the next part
  for (const p of parts) {
    let i = 0;
    if (odd !== undefined && p.length > 0) { sum += (odd << 8) | p[0]!; odd = undefined; i = 1; }
    for (; i + 1 < p.length; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
    if (i < p.length) odd = p[i]!;
  }
  if (odd !== undefined) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
