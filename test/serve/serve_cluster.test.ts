import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { decodePayload } from '../../src/serve/payload';
import { saveDuet } from '../../src/wrap/file_io';
import { post, request } from './http_client';
import { direct, maxDiff, tinyDuet } from './tiny_duet';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-cluster-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const script = fileURLToPath(new URL('./fixtures/serve_main.mts', import.meta.url));

/** Resolves once `count` lines of the child's stderr match `pattern`. */
function waitForLines(child: ChildProcess, log: string[], pattern: RegExp, count: number, ms: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; log:\n${log.join('\n')}`)), ms);
    const check = () => {
      const hits = log.filter((l) => pattern.test(l));
      if (hits.length >= count) {
        clearTimeout(timer);
        child.stderr?.off('data', check);
        resolve(hits);
      }
    };
    child.stderr?.on('data', check);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`the server exited early; log:\n${log.join('\n')}`));
    });
    check();
  });
}

describe('duet-tf serve --workers 2 (node:cluster)', () => {
  it('two workers share one port, serve, and all exit cleanly on SIGTERM', async () => {
    const { duet, generator } = tinyDuet();
    const dir = path.join(root, 'model');
    await saveDuet(duet, dir);
    const child = spawn(process.execPath, ['--import', 'tsx', script, '--model-dir', dir, '--port', '0', '--workers', '2'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'ignore', 'pipe'],
    });
    const log: string[] = [];
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => log.push(...d.split('\n').filter((l) => l.trim() !== '')));
    try {
      const listening = await waitForLines(child, log, /listening on http:\/\/127\.0\.0\.1:\d+/, 2, 40_000);
      const urls = listening.map((l) => /(http:\/\/127\.0\.0\.1:\d+)/.exec(l)![1]);
      expect(urls[0]).toBe(urls[1]); // port 0 under cluster: one shared port
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => post(`${urls[0]}/v1/parameters`, { sequence: [i + 1, 3] })));
      answers.forEach((r, i) => {
        expect(r.status).toBe(200);
        expect(maxDiff(decodePayload(new Uint8Array(r.body)).values, direct(generator, [i + 1, 3]))).toBeLessThan(1e-6);
      });
      // /metrics on any worker answers for both: 8 answers in all, summed by prom-client's
      // AggregatorRegistry in the primary, and the process metrics of both workers.
      for (let i = 0; i < 3; i++) {
        const text = (await request(`${urls[0]}/metrics`)).body.toString();
        expect(text).toMatch(/^duet_http_requests_total\{route="\/v1\/parameters",method="POST",status="200"\} 8$/m);
        expect(text).toMatch(/^duet_model_info\{fingerprint="[0-9a-f]{16}"\} 1$/m);
        expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
      }
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(log.filter((l) => l === 'duet-tf serve: closed')).toHaveLength(3); // primary + 2 workers
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});
