import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { decodePayload } from '../../src/serve/payload';
import { parseServeArgs, runServe } from '../../src/serve/serve_command';
import { saveDuet } from '../../src/wrap/file_io';
import { json, post, request } from './http_client';
import { direct, maxDiff, tinyDuet } from './tiny_duet';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-serve-cmd-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('parseServeArgs', () => {
  it('reads every option, in both --flag value and --flag=value forms, with defaults', () => {
    expect(parseServeArgs(['--model-dir', 'm'])).toEqual({ modelDir: 'm', port: 8080, host: '127.0.0.1', workers: 1 });
    expect(parseServeArgs([
      '--model-dir=m', '--port', '0', '--host=0.0.0.0', '--workers', '4', '--max-batch', '32', '--max-wait-ms=0',
      '--max-queue', '100', '--max-body-bytes', '2048', '--max-sequences', '3', '--format', 'int8',
      '--sequence-length', '20', '--vocab-size', '500', '--token', 't', '--cors-origin', 'http://a.test',
      '--cors-origin', 'http://b.test', '--shutdown-timeout-ms', '500', '--max-queue-ms', '250',
      '--max-connections', '1000', '--poll-seconds', '30',
    ])).toEqual({
      modelDir: 'm', port: 0, host: '0.0.0.0', workers: 4, maxBatch: 32, maxWaitMs: 0, maxQueue: 100,
      maxBodyBytes: 2048, maxSequences: 3, defaultFormat: 'int8', sequenceLength: 20, vocabSize: 500, token: 't',
      cors: { origins: ['http://a.test', 'http://b.test'] }, shutdownTimeoutMs: 500, maxQueueMs: 250,
      maxConnections: 1000, pollSeconds: 30,
    });
    expect(parseServeArgs(['--model-dir', 'm', '--cors-origin', '*']).cors).toEqual({ origins: '*' });
    expect(parseServeArgs(['--model-dir', 'm', '--generator-thread', 'off']).generatorThread).toBe(false);
    expect(parseServeArgs(['--model-dir', 'm', '--generator-thread=on']).generatorThread).toBe(true);
    expect(parseServeArgs(['--model-dir', 'm'], { DUET_SERVE_TOKEN: 'env' }).token).toBe('env');
    expect(parseServeArgs(['--model-dir', 'm', '--token', 'flag'], { DUET_SERVE_TOKEN: 'env' }).token).toBe('flag');
  });

  it('names the flag in every error', () => {
    expect(() => parseServeArgs([])).toThrow("'duet-tf serve' needs --model-dir DIR");
    expect(() => parseServeArgs(['--model-dir', 'm', '--port', 'x'])).toThrow("--port must be an integer >= 0, got 'x'");
    expect(() => parseServeArgs(['--model-dir', 'm', '--port', '70000'])).toThrow('--port must be at most 65535');
    expect(() => parseServeArgs(['--model-dir', 'm', '--workers', '0'])).toThrow('--workers must be an integer >= 1');
    expect(() => parseServeArgs(['--model-dir', 'm', '--format', 'f64'])).toThrow("--format must be f32, f16 or int8, got 'f64'");
    expect(() => parseServeArgs(['--model-dir', 'm', '--bogus', '1'])).toThrow('unknown option --bogus');
    expect(() => parseServeArgs(['--model-dir', 'm', '--generator-thread', 'yes'])).toThrow("--generator-thread must be on or off, got 'yes'");
    expect(() => parseServeArgs(['--model-dir'])).toThrow('--model-dir needs a value');
    expect(() => parseServeArgs(['serve'])).toThrow("unexpected argument 'serve'");
    expect(() => parseServeArgs(['--help'])).toThrow('Usage: duet-tf serve --model-dir DIR');
  });
});

describe('runServe (single process)', () => {
  it('loads the model directory, serves, and closes', async () => {
    const { duet, generator } = tinyDuet();
    const dir = path.join(root, 'duet');
    await saveDuet(duet, dir);
    const logs: string[] = [];
    const proc = await runServe(parseServeArgs(['--model-dir', dir, '--port', '0', '--format', 'f16']),
      { log: (m) => logs.push(m), handleSignals: false });
    try {
      expect(logs.some((l) => l.startsWith(`duet-tf serve: listening on ${proc.address.url}`))).toBe(true);
      expect(json(await request(`${proc.address.url}/healthz`)).status).toBe('ok');
      const r = await post(`${proc.address.url}/v1/parameters`, { sequence: [1, 2] });
      const p = decodePayload(new Uint8Array(r.body));
      expect(p.format).toBe('f16');
      expect(maxDiff(p.values, direct(generator, [1, 2]))).toBeLessThan(2e-3);
    } finally {
      await proc.close();
    }
  });
});
