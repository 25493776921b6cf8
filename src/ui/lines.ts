/** Splits streamed chunks into complete lines, per key; the rest waits for more data or a flush. */
export class LineBuffer {
  private readonly partial = new Map<string, string>();

  push(key: string, data: string, emit: (line: string) => void): void {
    const text = (this.partial.get(key) ?? '') + data;
    const parts = text.split('\n');
    this.partial.set(key, parts.pop() ?? '');
    for (const line of parts) emit(line.endsWith('\r') ? line.slice(0, -1) : line);
  }

  flush(key: string, emit: (line: string) => void): void {
    const rest = this.partial.get(key);
    this.partial.delete(key);
    if (rest) emit(rest);
  }
}
