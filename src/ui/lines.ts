/**
 * Splits streamed chunks into complete lines, per key; the rest waits for more data or a flush. Bytes in, bytes out:
 * the output is printed as the command wrote it (bytes that are not UTF-8 too), nothing decoded or encoded on the way.
 * One buffer per chunk, built with native `indexOf` and `copy`: a chunk of short lines used to be hundreds of line
 * strings and concatenations, and the garbage was most of `exec`'s time on a fast stream (BENCHMARKS.md, stream).
 */
export class ByteLineBuffer {
  private readonly partial = new Map<string, Buffer>();

  /**
   * The complete lines of what waits for `key` followed by `data`, each with `prefix` before it and `\n` after it (a
   * `\r\n` ending becomes `\n`), as one buffer; undefined when no line is complete yet.
   */
  prefixed(key: string, data: Buffer, prefix: Buffer): Buffer | undefined {
    const held = this.partial.get(key);
    const end = data.lastIndexOf(10);
    if (end === -1) {
      this.partial.set(key, held ? Buffer.concat([held, data]) : data);
      return undefined;
    }
    if (end + 1 < data.length) this.partial.set(key, data.subarray(end + 1));
    else this.partial.delete(key);
    // The line before each \n at `i` starts after the previous one; the first one with what was held.
    const heldCr = held?.length && held[held.length - 1] === 13 ? 1 : 0;
    const cr = (i: number) => (i > 0 ? data[i - 1] === 13 : heldCr === 1);
    let lines = 0;
    let crs = 0;
    for (let i = data.indexOf(10); i !== -1 && i <= end; i = data.indexOf(10, i + 1)) {
      lines++;
      if (cr(i)) crs++;
    }
    const heldLength = held?.length ?? 0;
    if (!prefix.length && !crs)
      return heldLength ? Buffer.concat([held as Buffer, data.subarray(0, end + 1)]) : data.subarray(0, end + 1);
    const out = Buffer.allocUnsafe(heldLength + end + 1 + lines * prefix.length - crs);
    const p = prefix.length;
    let pos = 0;
    let start = 0;
    for (let i = data.indexOf(10); i !== -1 && i <= end; i = data.indexOf(10, i + 1)) {
      // A JavaScript loop for the prefix: a native copy call for a few bytes costs more than it saves.
      for (let k = 0; k < p; k++) out[pos + k] = prefix[k] as number;
      pos += p;
      if (start === 0 && held) pos += held.copy(out, pos, 0, heldLength - (i === 0 ? heldCr : 0));
      pos += data.copy(out, pos, start, cr(i) && i > start ? i - 1 : i);
      out[pos++] = 10;
      start = i + 1;
    }
    return out;
  }

  /** What waits for `key` (a last line without its `\n`), forgotten. */
  flush(key: string): Buffer | undefined {
    const rest = this.partial.get(key);
    this.partial.delete(key);
    return rest?.length ? rest : undefined;
  }
}
