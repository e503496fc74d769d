/**
 * Fault test of `duet-tf serve` as a process: killed mid-load (SIGKILL), no response the client
 * got as a 200 is lost or corrupted, and the failures are connection errors only; restarted on
 * the same port, it serves again; SIGTERM mid-load lets in-flight requests finish. Loopback only,
 * bounded in time and count.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { decodePayload, PayloadFormat } from '../../src/serve/payload';
import { saveDuet } from '../../src/wrap/file_io';
import { direct, tinyDuet, VOCAB } from './tiny_duet';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-kill-'));
const script = fileURLToPath(new URL('./fixtures/serve_main.mts', import.meta.url));
const FORMATS: PayloadFormat[] = ['f32', 'f16', 'int8'];

interface Served { child: ChildProcess; url: string; port: number; log: string[] }

function startServer(dir: string, port: number): Promise<Served> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--model-dir', dir, '--port', String(port)], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server did not start; log:\n${log.join('')}`));
    }, 40_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      log.push(d);
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log.join(''));
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), url: `http://127.0.0.1:${m[1]}`, log });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening; log:\n${log.join('')}`));
    });
  });
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

interface Outcome {
  seq: number[];
  format: PayloadFormat;
  status?: number;
  body?: Buffer;
  error?: string;
}

/** One POST; a response counts only when its body is complete (Content-Length bytes). */
function post(agent: http.Agent, url: string, seq: number[], format: PayloadFormat): Promise<Outcome> {
  const body = JSON.stringify({ sequence: seq });
  return new Promise((resolve) => {
    const u = new URL(`${url}/v1/parameters?format=${format}`);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const data = Buffer.concat(chunks);
        const declared = Number(res.headers['content-length']);
        if (res.complete && data.length === declared) resolve({ seq, format, status: res.statusCode, body: data });
        else resolve({ seq, format, error: `incomplete body: ${data.length} of ${declared} bytes` });
      });
      res.on('error', (e) => resolve({ seq, format, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('client timeout')));
    req.on('error', (e) => resolve({ seq, format, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end(body);
  });
}

/**
 * `workers` loops posting distinct sequences until `stop()` resolves them, at most `limit`
 * requests in all. Returns every outcome.
 */
function load(url: string, workers: number, limit: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: workers });
  const outcomes: Outcome[] = [];
  let stopped = false;
  let n = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (!stopped && n < limit) {
      const i = n++;
      // Distinct histories, so a response swapped between requests would not match.
      const seq = Array.from({ length: 1 + (i % 7) }, (_, j) => 1 + ((i * 7 + j * 13) % (VOCAB - 1)));
      outcomes.push(await post(agent, url, seq, FORMATS[i % 3]));
      if (outcomes.at(-1)!.error !== undefined) await new Promise((r) => setTimeout(r, 5)); // no hot loop on a dead port
    }
  });
  return {
    outcomes,
    acknowledged: () => outcomes.filter((o) => o.status === 200).length,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
      return outcomes;
    },
    done: () => Promise.all(loops).then(() => agent.destroy()),
  };
}

/** Each 200 decodes (checksum included) and equals the generator's own output, within its format's error. */
function checkAcknowledged(generator: tfl.LayersModel, fingerprint: string, outcomes: Outcome[]): number {
  let checked = 0;
  for (const o of outcomes) {
    if (o.status !== 200) continue;
    const p = decodePayload(new Uint8Array(o.body!));
    expect(p.fingerprint).toBe(fingerprint);
    expect(p.format).toBe(o.format);
    const want = direct(generator, o.seq);
    const max = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const tolerance = o.format === 'f32' ? 1e-6 : o.format === 'f16' ? 1e-3 * max + 1e-6 : max / 254 + 1e-6;
    expect(p.values.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(p.values[i] - want[i]));
    expect(worst, `${o.format} payload for [${o.seq.join(',')}]`).toBeLessThanOrEqual(tolerance);
    checked++;
  }
  return checked;
}

const waitFor = async (cond: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for the load');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('duet-tf serve killed and restarted under load', () => {
  const { duet, generator } = tinyDuet({ seed: 3 });
  const dir = path.join(root, 'model');
  let fingerprint: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    await saveDuet(duet, dir);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('SIGKILL mid-load: every 200 is complete and correct, the rest are connection errors; a restart serves again', async () => {
    const first = await startServer(dir, 0);
    children.push(first.child);
    fingerprint = (await (await fetch(`${first.url}/v1/model`)).json() as { fingerprint: string }).fingerprint;
    const run = load(first.url, 16, 20_000);
    await waitFor(() => run.acknowledged() >= 150, 30_000);
    first.child.kill('SIGKILL');
    expect((await exited(first.child)).signal).toBe('SIGKILL');
    const killedAt = run.outcomes.length;
    await waitFor(() => run.outcomes.length >= killedAt + 32, 10_000); // the loops see the dead port
    const outcomes = await run.stop();

    const ok = checkAcknowledged(generator, fingerprint, outcomes);
    expect(ok).toBeGreaterThanOrEqual(150);
    // Nothing but 200s and connection failures: no 5xx, no half-read body passed off as an answer.
    expect(outcomes.filter((o) => o.status !== undefined && o.status !== 200)).toEqual([]);
    const failures = outcomes.filter((o) => o.error !== undefined);
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) expect(f.error).toMatch(/ECONNREFUSED|ECONNRESET|socket hang up|incomplete body|EPIPE/);

    // The same port, a new process: it serves again, correctly.
    const second = await startServer(dir, first.port);
    children.push(second.child);
    expect(second.port).toBe(first.port);
    const again = load(second.url, 8, 120);
    await again.done();
    expect(again.outcomes).toHaveLength(120);
    expect(again.outcomes.filter((o) => o.status !== 200)).toEqual([]);
    expect(checkAcknowledged(generator, fingerprint, again.outcomes)).toBe(120);

    // SIGTERM mid-load: the process drains and exits 0; what was answered is still right.
    const drain = load(second.url, 16, 20_000);
    await waitFor(() => drain.acknowledged() >= 50, 20_000);
    second.child.kill('SIGTERM');
    expect((await exited(second.child)).code).toBe(0);
    const drained = await drain.stop();
    expect(checkAcknowledged(generator, fingerprint, drained)).toBeGreaterThanOrEqual(50);
    // A graceful stop may refuse new work (503 draining, closed connections) but never answers wrongly.
    expect(drained.filter((o) => o.status !== undefined && o.status !== 200 && o.status !== 503)).toEqual([]);
    expect(second.log.join('')).toContain('duet-tf serve: closed');
  }, 90_000);
});
