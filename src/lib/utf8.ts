/**
 * The length of `buf` without an incomplete UTF-8 character at its end (0 to 3 bytes held back), so that each chunk
 * sent decodes on its own. Bytes that are not UTF-8 at all are not held: they go as they are.
 */
export function wholeCharsLength(buf: Uint8Array): number {
  const n = buf.length;
  // The last lead byte within the last 4 bytes, if the bytes after it are all continuation bytes (10xxxxxx).
  for (let i = n - 1; i >= Math.max(0, n - 4); i--) {
    const b = buf[i] as number;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 && b <= 0xf4 ? 4 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xc2 && b <= 0xdf ? 2 : 1;
    return n - i < need ? i : n;
  }
  return n;
}

/**
 * The largest cut `≤ at` of `buf` that is not inside a UTF-8 character, at most 3 bytes before `at` (bytes that are
 * not UTF-8 are cut anywhere). Callers pass `at ≥ 4`, so the piece before the cut is never empty.
 */
export function charBoundary(buf: Uint8Array, at: number): number {
  if (at >= buf.length) return buf.length;
  let i = at;
  while (i > 0 && at - i < 3 && ((buf[i] as number) & 0xc0) === 0x80) i--;
  return ((buf[i] as number) & 0xc0) === 0x80 ? at : i;
}
