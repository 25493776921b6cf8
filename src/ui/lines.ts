/** Splits streamed chunks into complete lines, per key; the rest waits for more data or a flush. */
export class LineBuffer {
  private readonly partial = new Map<string, string>();

  /**
   * The complete lines of what waits for `key` followed by `data`, each with `prefix` before it and `\n` after it
   * (a `\r\n` ending becomes `\n`), as one string: '' when no line is complete yet. One string per chunk, built with
   * native string operations: a 64 KB chunk of short lines was hundreds of line strings and concatenations, and the
   * garbage was most of `exec`'s time on a fast stream (BENCHMARKS.md, stream).
   */
  prefixed(key: string, data: string, prefix: string): string {
    const text = (this.partial.get(key) ?? '') + data;
    const end = text.lastIndexOf('\n');
    if (end === -1) {
      this.partial.set(key, text);
      return '';
    }
    this.partial.set(key, text.slice(end + 1));
    let lines = text.slice(0, end + 1);
    if (lines.includes('\r\n')) lines = lines.replaceAll('\r\n', '\n');
    if (!prefix) return lines;
    return prefix + lines.slice(0, -1).replaceAll('\n', `\n${prefix}`) + '\n';
  }

  flush(key: string, emit: (line: string) => void): void {
    const rest = this.partial.get(key);
    this.partial.delete(key);
    if (rest) emit(rest);
  }
}
