/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal (never on stdout, so
 * JSON printed by a CLI stays clean). Browser-safe: without `process` it draws nothing. Internal.
 */

interface TtyStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): unknown;
}

function stderrTty(): TtyStream | undefined {
  const stream = (globalThis as { process?: { stderr?: TtyStream } }).process?.stderr;
  return stream?.isTTY === true ? stream : undefined;
}

/** Redraws at most every 100 ms; `finish` ends the line. */
export class ProgressBar {
  private readonly stream: TtyStream | undefined;
  private last = 0;

  constructor(enabled: boolean) {
    this.stream = enabled ? stderrTty() : undefined;
  }

  /** Whether anything is drawn (callers can skip computing the text). */
  get active(): boolean {
    return this.stream !== undefined;
  }

  update(label: string, done: number, total: number, info: () => string, force = false): void {
    if (this.stream === undefined) return;
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const width = 24;
    const filled = total > 0 ? Math.round((done / total) * width) : width;
    const bar = `${'='.repeat(filled)}${' '.repeat(width - filled)}`;
    let line = `${label} [${bar}] ${done}/${total} ${info()}`;
    const columns = this.stream.columns ?? 100;
    if (line.length > columns - 1) line = line.slice(0, columns - 1);
    this.stream.write(`\r\x1b[2K${line}`);
  }

  finish(): void {
    if (this.stream !== undefined) this.stream.write('\n');
    this.last = 0;
  }
}
