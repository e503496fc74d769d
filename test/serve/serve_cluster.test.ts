import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';

import { generatorFingerprint } from '../../src/serve/fingerprint';
import { EXIT_AFTER_ENV } from '../../src/serve/thread/protocol';
import { decodePayload } from '../../src/serve/payload';
import { saveDuet } from '../../src/wrap/file_io';
import { json, post, request } from './http_client';
import { direct, maxDiff, tinyDuet } from './tiny_duet';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-cluster-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const script = fileURLToPath(new URL('./fixtures/serve_main.mts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Resolves once `count` lines of the child's stderr match `pattern`. */
function waitForLines(child: ChildProcess, log: string[], pattern: RegExp, count: number, ms: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; log:\n${log.join('\n')}`)), ms);
    const check = () => {
      const hits = log.filter((l) => pattern.test(l));
      if (hits.length >= count) {
        clearTimeout(timer);
        child.stderr?.off('data', check);
        child.off('exit', onExit);
        resolve(hits);
      }
    };
    const onExit = () => {
      clearTimeout(timer);
      reject(new Error(`the server exited early; log:\n${log.join('\n')}`));
    };
    child.stderr?.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

function serve(args: string[]): { child: ChildProcess; log: string[] } {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  const log: string[] = [];
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => log.push(...d.split('\n').filter((l) => l.trim() !== '')));
  return { child, log };
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => {
  if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
  else child.once('exit', (code) => resolve(code));
});

/** The cluster workers' process ids (children of the primary). */
const workerPids = (pid: number) => fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);

/** Fingerprints of `n` answers over separate connections (spread over the workers). */
async function fingerprints(url: string, n: number): Promise<string[]> {
  const answers = await Promise.all(Array.from({ length: n }, (_, i) =>
    request(`${url}/v1/parameters?format=f32`, { method: 'POST', fresh: true, headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sequence: [i + 1, 3] }) })));
  return answers.map((r) => {
    expect(r.status).toBe(200);
    return decodePayload(new Uint8Array(r.body)).fingerprint;
  });
}

describe('duet-tf serve --workers 2 (node:cluster)', () => {
  it('all workers serve one version: a restarted worker keeps it, SIGHUP switches them together, SIGTERM stops all', async () => {
    const [a, b] = [tinyDuet({ seed: 41 }), tinyDuet({ seed: 42 })];
    const [fpA, fpB] = [generatorFingerprint(a.generator), generatorFingerprint(b.generator)];
    const dir = path.join(root, 'versions');
    await saveDuet(a.duet, path.join(dir, '1'));
    const { child, log } = serve(['--model-dir', dir, '--port', '0', '--workers', '2', '--health-port', '0']);
    try {
      const [started] = await waitForLines(child, log, /2 workers serving version 1 .* on http:\/\/127\.0\.0\.1:\d+/, 1, 60_000);
      const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(started)![1];
      // The primary answers the health port from the workers' state reports (every 0.5 s).
      const healthUrl = /health checks also on (http:\/\/127\.0\.0\.1:\d+)/.exec(started)![1];
      const readyAt = async (version: number) => {
        for (let i = 0; i < 200; i++) {
          const r = await request(`${healthUrl}/readyz`, { fresh: true });
          // Ready, and both workers' latest reports (every 0.5 s) say they are ready on `version`.
          const body = json(r);
          if (r.status === 200 && body.version === version && body.workers.length === 2 &&
              body.workers.every((w: { status: string; version: number }) => w.status === 'ready' && w.version === version)) return body;
          await new Promise((res) => setTimeout(res, 100));
        }
        throw new Error(`the health port never said ready at version ${version}; log:\n${log.join('\n')}`);
      };
      expect((await readyAt(1)).status).toBe('ready');
      const live = await request(`${healthUrl}/healthz`, { fresh: true });
      expect(live.status).toBe(200);
      expect(json(live).status).toBe('ok');
      const listening = log.filter((l) => /listening on http:\/\/127\.0\.0\.1:\d+/.test(l));
      expect(listening).toHaveLength(2);
      expect(new Set(listening.map((l) => /:(\d+)/.exec(l)![1])).size).toBe(1); // port 0 under cluster: one shared port
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => post(`${url}/v1/parameters?format=f32`, { sequence: [i + 1, 3] })));
      answers.forEach((r, i) => {
        expect(r.status).toBe(200);
        expect(maxDiff(decodePayload(new Uint8Array(r.body)).values, direct(a.generator, [i + 1, 3]))).toBeLessThan(1e-6);
      });
      // /metrics on any worker answers for both: 8 answers in all, summed by prom-client's
      // AggregatorRegistry in the primary, and the process metrics of both workers.
      for (let i = 0; i < 3; i++) {
        const text = (await request(`${url}/metrics`)).body.toString();
        expect(text).toMatch(/^duet_http_requests_total\{route="\/v1\/parameters",method="POST",status="200"\} 8$/m);
        expect(text).toMatch(/^duet_model_info\{fingerprint="[0-9a-f]{16}"\} 1$/m);
        expect(text).toMatch(/^duet_model_version 1$/m);
        expect(text).toMatch(/^duet_ready 1$/m);
        expect(text).toMatch(/^process_resident_memory_bytes \d+$/m);
      }

      // Version 2 appears on disk, then a worker dies: its replacement serves version 1 too.
      await saveDuet(b.duet, path.join(dir, '2'));
      const pids = workerPids(child.pid!);
      expect(pids).toHaveLength(2);
      process.kill(pids[0], 'SIGKILL');
      await waitForLines(child, log, /restarting it with version 1/, 1, 30_000);
      await waitForLines(child, log, /listening on http:\/\/127\.0\.0\.1:\d+/, 3, 60_000);
      expect(new Set(await fingerprints(url, 12))).toEqual(new Set([fpA]));

      // SIGHUP: both load and warm version 2, then switch.
      child.kill('SIGHUP');
      await waitForLines(child, log, /all 2 workers now serve version 2/, 1, 60_000);
      expect(new Set(await fingerprints(url, 12))).toEqual(new Set([fpB]));
      expect((await readyAt(2)).status).toBe('ready');
      const models = await Promise.all(Array.from({ length: 6 }, () => request(`${url}/v1/model`, { fresh: true })));
      expect(new Set(models.map((m) => json(m).version))).toEqual(new Set([2]));

      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
      expect(log.filter((l) => l === 'duet-tf serve: closed')).toHaveLength(3); // primary + 2 workers
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 150_000);

  it('a worker that cannot start (a model with NaN weights) makes the service exit non-zero, saying why', async () => {
    const bad = tinyDuet({ seed: 43 });
    const g = bad.duet.getLayer('duetGenerator');
    g.setWeights(g.getWeights().map((w, i) => (i === 0 ? tf.fill(w.shape, NaN) : w)));
    const dir = path.join(root, 'nan');
    await saveDuet(bad.duet, dir);
    const { child, log } = serve(['--model-dir', dir, '--port', '0', '--workers', '2']);
    try {
      expect(await exited(child)).not.toBe(0);
      const text = log.join('\n');
      expect(text).toMatch(/a worker failed to start: .*layer 'duetGenerator' of model .* has non-finite weights/);
      expect(text).not.toMatch(/listening on/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 90_000);

  it('a worker whose generator thread dies answers 500 generator_failed, exits 1 and is restarted; the service stays up', async () => {
    const dir = path.join(root, 'thread-dies');
    await saveDuet(tinyDuet({ seed: 44 }).duet, dir);
    // Every generator thread exits at its first call (a test hook the threads read).
    process.env[EXIT_AFTER_ENV] = '0';
    let started;
    try {
      started = serve(['--model-dir', dir, '--port', '0', '--workers', '2']);
    } finally {
      delete process.env[EXIT_AFTER_ENV];
    }
    const { child, log } = started;
    try {
      const [line] = await waitForLines(child, log, /2 workers serving the model .* on http:\/\/127\.0\.0\.1:\d+/, 1, 60_000);
      const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(line)![1];
      const r = await request(`${url}/v1/parameters?format=f32`, { method: 'POST', fresh: true,
        headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ sequence: [1, 2] }) });
      expect(r.status).toBe(500);
      expect(json(r).error.code).toBe('generator_failed');
      await waitForLines(child, log, /worker \d+ stops: the generator thread exited \(code 70\)/, 1, 30_000);
      await waitForLines(child, log, /worker \d+ exited \(1\); restarting it/, 1, 30_000);
      // The replacement listens; the service answers (the other worker's /healthz, or the new one's).
      await waitForLines(child, log, /listening on http:\/\/127\.0\.0\.1:\d+ \(/, 3, 60_000);
      expect((await request(`${url}/healthz`, { fresh: true })).status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }, 120_000);
});
