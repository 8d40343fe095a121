/**
 * Splits a stream into lines in linear time and bounded memory: each chunk is scanned
 * once (never re-joined with what came before), and a line longer than `maxLine` keeps
 * only its start, so 100 MB without a newline costs 64 KiB, not gigabytes.
 */

/** Longest line kept whole (longer ones are cut, with a note of how much was dropped). */
export const MAX_LINE_CHARS = 64 * 1024;

export class LineBuffer {
  private parts: string[] = [];
  private kept = 0;
  private total = 0;

  constructor(
    private readonly emit: (line: string) => void,
    private readonly maxLine = MAX_LINE_CHARS,
  ) {}

  push(chunk: string): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl < 0) {
        this.append(chunk, start, chunk.length);
        return;
      }
      this.append(chunk, start, nl);
      this.endLine();
      start = nl + 1;
    }
  }

  /** Emits what is left (a last line without a newline). */
  flush(): void {
    if (this.total > 0) this.endLine();
  }

  private append(chunk: string, from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    const room = this.maxLine - this.kept;
    if (room > 0) {
      const piece = chunk.slice(from, from + Math.min(room, n));
      this.parts.push(piece);
      this.kept += piece.length;
    }
    this.total += n;
  }

  private endLine(): void {
    let line = this.parts.join('');
    if (this.total > this.kept) line += ` [... ${this.total - this.kept} more characters cut]`;
    else if (line.endsWith('\r')) line = line.slice(0, -1);
    this.parts = [];
    this.kept = 0;
    this.total = 0;
    this.emit(line);
  }
}

/** The last `max` lines of a log (older ones dropped as new ones come). */
export class LogTail {
  private lines: string[] = [];
  /** Lines dropped from the front. */
  dropped = 0;

  constructor(private readonly max: number) {}

  push(line: string): void {
    this.lines.push(line);
    // Trim in blocks: amortised O(1) per line.
    if (this.lines.length >= 2 * this.max) {
      this.dropped += this.lines.length - this.max;
      this.lines = this.lines.slice(-this.max);
    }
  }

  /** The kept lines, oldest first (at most `max`). */
  last(n = this.max): string[] {
    return this.lines.slice(-Math.min(n, this.max));
  }
}
