/**
 * `duet-tf serve` (the real CLI, from source) with its generator thread: a thread that dies
 * makes the command exit 1 with the reason; SIGTERM stops it (thread included) without a hang.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { EXIT_AFTER_ENV } from '../../src/serve/thread/protocol';
import { saveDuet } from '../../src/wrap/file_io';
import { json, post, request } from './http_client';
import { tinyDuet } from './tiny_duet';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-serve-thread-cli-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

async function serve(dir: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/cli/bin.ts'), 'serve',
    '--model-dir', dir, '--port', '0', '--backend', 'cpu'],
  { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => { log += d; });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const end = Date.now() + 60_000;
  for (;;) {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
    if (m !== null) return { child, url: m[1], exited, log: () => log };
    if (Date.now() > end || child.exitCode !== null) throw new Error(`the server did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const kill = (child: ChildProcess) => {
  if (child.exitCode === null) child.kill('SIGKILL');
};

describe('duet-tf serve with a generator thread', () => {
  it('exits 1 with the reason when its generator thread dies, after answering 500 generator_failed', async () => {
    const dir = path.join(root, 'dies');
    await saveDuet(tinyDuet({ seed: 61 }).duet, dir);
    const s = await serve(dir, { [EXIT_AFTER_ENV]: '0' });
    try {
      expect(s.log()).toContain('generator thread)');
      const r = await post(`${s.url}/v1/parameters?format=f32`, { sequence: [1, 2] });
      expect(r.status).toBe(500);
      expect(json(r).error.code).toBe('generator_failed');
      const code = await Promise.race([s.exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]);
      expect(code, s.log()).toBe(1);
      expect(s.log()).toMatch(/duet-tf serve: stopping: the generator thread exited \(code 70\)/);
    } finally {
      kill(s.child);
    }
  }, 90_000);

  it('SIGTERM stops it, thread and all, with exit code 0', async () => {
    const dir = path.join(root, 'term');
    await saveDuet(tinyDuet({ seed: 62 }).duet, dir);
    const s = await serve(dir);
    try {
      expect((await post(`${s.url}/v1/parameters?format=f32`, { sequence: [3] })).status).toBe(200);
      expect(json(await request(`${s.url}/readyz`)).status).toBe('ready');
      const began = Date.now();
      s.child.kill('SIGTERM');
      const code = await Promise.race([s.exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]);
      expect(code, s.log()).toBe(0);
      expect(Date.now() - began).toBeLessThan(10_000);
    } finally {
      kill(s.child);
    }
  }, 90_000);
});
