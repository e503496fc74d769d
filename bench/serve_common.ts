/**
 * Pieces of `bench:serve` shared by its scenarios: the HTTP clients, percentiles, and the
 * server's CPU time and memory from /proc (Linux).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';

export function post(agent: http.Agent, url: URL, body: string): Promise<{ status: number; bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'POST', agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * One keep-alive HTTP/1.1 connection sending one request at a time, with no per-request objects
 * beyond the answer: the bench's lean client (`--client raw`).
 */
export class RawConnection {
  private socket: net.Socket | null = null;
  private chunks: Buffer[] = [];
  private received = 0;
  private headerEnd = -1;
  private expected = -1;
  private status = 0;
  private startedAt = 0;
  private pending: { resolve(r: { status: number; length: number }): void; reject(e: Error): void } | null = null;

  constructor(private readonly url: URL) {}

  request(head: Buffer, body: Buffer): Promise<{ status: number; length: number }> {
    if (this.socket === null) this.connect();
    this.chunks = [];
    this.received = 0;
    this.headerEnd = -1;
    this.startedAt = performance.now();
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.socket!.cork();
      this.socket!.write(head);
      this.socket!.write(body);
      this.socket!.uncork();
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  /** Fails the request in flight when it has waited more than `ms`. */
  expire(ms: number): void {
    if (this.pending !== null && performance.now() - this.startedAt > ms) {
      this.socket?.destroy(new Error('timeout'));
    }
  }

  private connect(): void {
    const socket = net.connect(Number(this.url.port), this.url.hostname);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const fail = (e: Error) => {
      if (this.socket === socket) this.socket = null;
      const p = this.pending;
      this.pending = null;
      p?.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
    this.socket = socket;
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.received += chunk.length;
    if (this.headerEnd < 0) {
      const all = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks);
      this.chunks = [all];
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = all.toString('latin1', 0, end);
      this.status = Number(head.slice(9, 12));
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      this.headerEnd = end + 4;
      this.expected = m === null ? 0 : Number(m[1]);
    }
    if (this.received >= this.headerEnd + this.expected) {
      const p = this.pending;
      this.pending = null;
      p?.resolve({ status: this.status, length: this.received - this.headerEnd });
    }
  }
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/**
 * CPU seconds the server and its cluster workers have used so far, user and system (kernel)
 * time, from /proc (Linux); null elsewhere. Less load-dependent than requests/s.
 */
export function serverCpuSeconds(pid: number): { user: number; system: number } | null {
  const tick = 100; // USER_HZ: 100 on every Linux Node supports
  const read = (p: number): { user: number; system: number } => {
    const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = { user: Number(fields[11]) / tick, system: Number(fields[12]) / tick }; // utime, stime
    let children = '';
    try {
      children = fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8');
    } catch {
      // No children file (older kernels): the process alone.
    }
    for (const c of children.split(' ').filter((x) => x !== '')) {
      try {
        const child = read(Number(c));
        cpu.user += child.user;
        cpu.system += child.system;
      } catch {
        // A child that just exited.
      }
    }
    return cpu;
  };
  try {
    return read(pid);
  } catch {
    return null;
  }
}

/** The server's resident memory now, in MB (VmRSS), or null off Linux. */
export function residentMegabytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? null : Number(m[1]) / 1024;
  } catch {
    return null;
  }
}
