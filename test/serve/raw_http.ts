import * as net from 'node:net';

/** A parsed HTTP/1.1 response. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * One TCP connection speaking HTTP/1.1 by hand: requests are written as given (headers only,
 * a partial body, …) and answers are parsed as they arrive, so a test controls exactly what the
 * server has received when it answers.
 */
export class RawConnection {
  readonly socket: net.Socket;
  private buffer = Buffer.alloc(0);
  private waiting: Array<{ resolve(a: RawAnswer): void; reject(e: Error): void }> = [];
  closed = false;
  error: string | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      this.error = e.code ?? e.message;
    });
    socket.on('close', () => {
      this.closed = true;
      const waiting = this.waiting;
      this.waiting = [];
      waiting.forEach((w) => w.reject(new Error(`connection closed (${this.error ?? 'by the server'})`)));
    });
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** Writes raw bytes. */
  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** Writes a complete request. */
  send(method: string, target: string, body?: string, headers: Record<string, string> = {}): void {
    const head = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    if (body !== undefined) head.push(`Content-Length: ${Buffer.byteLength(body)}`, 'Content-Type: application/json');
    this.write(`${head.join('\r\n')}\r\n\r\n${body ?? ''}`);
  }

  /** The next answer on this connection. */
  answer(timeoutMs = 30_000): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push({
        resolve: (a) => { clearTimeout(timer); resolve(a); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.parse();
      if (this.closed && this.waiting.length > 0) this.waiting.shift()!.reject(new Error('connection closed'));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private parse(): void {
    while (this.waiting.length > 0) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.buffer.toString('latin1', 0, end).split('\r\n');
      const status = Number(lines[0].slice(9, 12));
      const headers: Record<string, string> = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (this.buffer.length < end + 4 + length) return;
      const body = this.buffer.subarray(end + 4, end + 4 + length);
      this.buffer = this.buffer.subarray(end + 4 + length);
      this.waiting.shift()!.resolve({ status, headers, body: Buffer.from(body) });
    }
  }
}
