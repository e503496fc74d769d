/**
 * The README, followed by a newcomer with a ratings CSV keyed by strings:
 * 1. the commands of "Your own data, from the command line", run as printed through the real
 *    CLI entry (src/cli/bin.ts, what `npx duet-tf` runs) in a folder holding `ratings.csv`; the
 *    `curl` line's request sent as it is, answered in parameters for those ids;
 * 2. the "On the device" snippet: the model's device part published as the README's Node
 *    snippet says, the browser snippet bundled by esbuild as printed (`duet-tf/device` resolved
 *    to the source) and run in headless Chromium against the service, at the same origin.
 * Needs Debian's chromium for part 2 (skipped without it, saying so).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import * as tf from '@tensorflow/tfjs-core';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { readIdMap } from '../../src/data/id_map';
import { createServer, type ServerHandle } from '../../src/serve/server';
import { loadDuet } from '../../src/index'; // the main entry: every duet-tf layer registered
import { splitDuet } from '../../src/wrap/split_duet';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(REPO, 'src/cli/bin.ts');
// tsx's loader by path: the commands run in a temp folder, where `--import tsx` would not resolve.
const TSX = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = fs.existsSync(CHROMIUM);
const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');

/** The first fenced block of `lang` after `heading`. */
function block(heading: string, lang: string, nth = 0): string {
  const at = readme.indexOf(`\n${heading}\n`);
  expect(at, heading).toBeGreaterThan(0);
  const blocks = [...readme.slice(at).matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))];
  return blocks[nth][1];
}

/**
 * A ratings table as a shop exports it: string user and item ids, 1–5 stars, timestamps. 150
 * users rate 16 of 60 items (B0001..B0060); their tastes follow the item number, so a model can
 * learn something. Every README id (B0012, B0007, …) is rated 4 or 5 by someone.
 */
function ratingsCsv(): string {
  const rows = ['user,item,rating,timestamp'];
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let u = 0; u < 150; u++) {
    const taste = u % 6;
    for (let t = 0; t < 16; t++) {
      const item = 1 + ((taste * 10 + Math.floor(rand() * 14)) % 60);
      const stars = rand() < 0.8 ? 4 + Math.floor(rand() * 2) : 1 + Math.floor(rand() * 3);
      rows.push(`A${(1000 + u * 37).toString(36).toUpperCase()},B${String(item).padStart(4, '0')},${stars},${1_600_000_000 + t * 3600 + u}`);
    }
  }
  return `${rows.join('\n')}\n`;
}

/** Runs one README command line (`npx duet-tf …`) through the CLI entry in `cwd`. */
async function duetTf(line: string, cwd: string): Promise<{ stdout: string; stderr: string }> {
  const args = line.replace(/^npx duet-tf /, '').trim().split(/\s+/);
  return promisify(execFile)(process.execPath, ['--import', TSX, CLI, ...args], { cwd, encoding: 'utf8' });
}

/** Starts `npx duet-tf serve …` (the README's background line) on a free port; resolves with its URL. */
function startServe(line: string, cwd: string): Promise<{ child: ChildProcess; url: string; log: string[] }> {
  const args = line.replace(/^npx duet-tf /, '').replace(/\s*&\s*$/, '').replace(/--port \d+/, '--port 0').split(/\s+/);
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  const log: string[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${log.join('')}`)), 60_000);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      log.push(d);
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log.join(''));
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, url: m[1], log });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code}):\n${log.join('')}`));
    });
  });
}

/** What the README's curl line sends: its -d body to its URL (curl -d posts form-encoded, no Accept). */
async function curl(line: string, base: string): Promise<{ status: number; type: string; body: string }> {
  const body = /-d '([^']*)'/.exec(line)![1];
  const url = /(http:\/\/\S+)/.exec(line)![1].replace(/^http:\/\/127\.0\.0\.1:8080/, base);
  const r = await fetch(url, {
    method: 'POST', body, headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: '*/*' },
  });
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() };
}

describe('README: your own data (string ids), from the command line and on the device', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-readme-own-'));
  let serve: { child: ChildProcess; url: string; log: string[] } | undefined;
  const commands = block('## Your own data, from the command line', 'sh').split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l !== '' && !l.startsWith('#'));

  beforeAll(() => fs.writeFileSync(path.join(root, 'ratings.csv'), ratingsCsv()));
  afterAll(async () => {
    if (serve !== undefined && serve.child.exitCode === null) {
      const exited = new Promise((r) => serve!.child.once('exit', r));
      serve.child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('prepare, train, serve and query with the data\'s own ids, as printed', async () => {
    expect(commands.map((c) => c.split(' ').slice(0, 3).join(' '))).toEqual([
      'npx duet-tf prepare', 'npx duet-tf train', 'npx duet-tf serve', 'curl -d \'{"sequence":',
    ]);
    const prepared = await duetTf(commands[0], root);
    expect(prepared.stderr).toMatch(/^prepare: kept \d+ of 2400 rows as positives \(rated at least 4; --min-rating\)/);
    expect(prepared.stderr).not.toMatch(/warning/);
    const items = await readIdMap(path.join(root, 'data/mine/items.tsv'));
    expect(items.originals.every((id) => /^B\d{4}$/.test(id))).toBe(true);
    expect(fs.readFileSync(path.join(root, 'data/mine/users.tsv'), 'utf8')).toMatch(/^index\tid\n1\tA[0-9A-Z]+\n/);

    const trained = await duetTf(commands[1], root);
    expect(trained.stdout).toMatch(/^model: sasrec\nvariant: duet\n/);
    expect(fs.readFileSync(path.join(root, 'models/mine/items.tsv'), 'utf8'))
      .toBe(fs.readFileSync(path.join(root, 'data/mine/items.tsv'), 'utf8'));

    serve = await startServe(commands[2], root);
    const answer = await curl(commands[3], serve.url);
    expect(answer.status, answer.body).toBe(200);
    expect(answer.type).toBe('application/json; charset=utf-8'); // readable in a terminal
    const { parameters, fingerprint } = JSON.parse(answer.body);
    // The parameters are the generator's for those items' indices.
    const ids = JSON.parse(/-d '([^']*)'/.exec(commands[3])![1]).sequence as string[];
    const model = await loadDuet(path.join(root, 'models/mine'));
    const { generator } = splitDuet(model);
    const L = generator.inputs[0].shape[1] as number;
    const row = new Array<number>(L).fill(0);
    ids.map((id) => items.indexOf(id)!).forEach((index, i) => { row[i] = index; });
    const expected = tf.tidy(() => Array.from((generator.predict(tf.tensor2d([row])) as tf.Tensor).dataSync()));
    expect(parameters[0]).toHaveLength(expected.length);
    expect(Math.max(...expected.map((v, i) => Math.abs(v - parameters[0][i])))).toBeLessThan(1e-4);
    expect(fingerprint).toMatch(/^[0-9a-f]{16}$/);
    model.dispose();
    // An id the data never had: a 400 naming it.
    const unknown = await curl(commands[3].replace('"B0012"', '"B9999"'), serve.url);
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body).error.message).toContain('"B9999"');
  }, 120_000);

  describe.skipIf(!hasChromium)(hasChromium ? 'the device snippet in Chromium' :
    `the device snippet in Chromium — SKIPPED: ${CHROMIUM} not found (apt-get install -y chromium)`, () => {
    let site: http.Server | undefined;
    let service: ServerHandle | undefined;
    afterAll(async () => {
      await service?.close();
      await new Promise((r) => (site ? site.close(r) : r(undefined)));
    });

    it('runs as printed: the backend import, your ids in, your ids out, parameters from the service', async () => {
      const modelDir = path.join(root, 'models/mine');
      expect(fs.existsSync(path.join(modelDir, 'items.tsv')), 'the CLI test above trains the model').toBe(true);
      // Publish the device part as the README's Node snippet does (its imports from the source).
      const publish = block('## On the device', 'ts', 1).replace(/from 'duet-tf'/, `from '${path.join(REPO, 'src/index.ts')}'`);
      const publishFile = path.join(root, 'publish.mts');
      fs.writeFileSync(publishFile, publish);
      await promisify(execFile)(process.execPath, ['--import', TSX, publishFile], { cwd: root, encoding: 'utf8' });
      const deviceDir = path.join(root, 'public/device');
      expect(JSON.parse(fs.readFileSync(path.join(deviceDir, 'model.json'), 'utf8')).userDefinedMetadata.duet.items)
        .toEqual((await readIdMap(path.join(modelDir, 'items.tsv'))).originals);

      // The browser snippet, bundled as an app would bundle it.
      const snippet = block('## On the device', 'ts', 0);
      const page = path.join(root, 'page');
      fs.mkdirSync(page, { recursive: true });
      fs.writeFileSync(path.join(page, 'main.ts'), snippet);
      await build({
        entryPoints: [path.join(page, 'main.ts')], outfile: path.join(page, 'main.js'), bundle: true,
        format: 'esm', platform: 'browser', target: 'es2022', logLevel: 'silent',
        alias: { 'duet-tf/device': path.join(REPO, 'src/device/index.ts') }, nodePaths: [path.join(REPO, 'node_modules')],
      });
      fs.writeFileSync(path.join(page, 'index.html'), '<!doctype html><script type="module" src="/main.js"></script>');

      // One origin: the page, the published device model, and the service (its handler mounted).
      service = await createServer({ model: modelDir });
      const files: Record<string, string> = {
        '/': path.join(page, 'index.html'), '/main.js': path.join(page, 'main.js'),
        '/device/model.json': path.join(deviceDir, 'model.json'), '/device/weights.bin': path.join(deviceDir, 'weights.bin'),
      };
      const handler = service.handler;
      site = http.createServer((req, res) => {
        const file = files[(req.url ?? '/').split('?')[0]];
        if (file === undefined) {
          handler(req, res);
          return;
        }
        const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.html') ? 'text/html' :
          file.endsWith('.json') ? 'application/json' : 'application/octet-stream';
        res.writeHead(200, { 'Content-Type': type }).end(fs.readFileSync(file));
      });
      await new Promise<void>((r) => site!.listen(0, '127.0.0.1', () => r()));
      const port = (site.address() as { port: number }).port;

      const { chromium } = await import('playwright-core');
      const context = await chromium.launchPersistentContext(path.join(root, 'profile'), {
        executablePath: CHROMIUM, headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      });
      try {
        const tab = context.pages()[0] ?? await context.newPage();
        const errors: string[] = [];
        tab.on('pageerror', (e) => errors.push(e.message));
        const printed = new Promise<string>((resolve) => tab.on('console', (m) => {
          if (m.type() === 'log') resolve(m.text());
        }));
        await tab.goto(`http://127.0.0.1:${port}/`);
        const line = await Promise.race([printed, new Promise<string>((_, reject) =>
          setTimeout(() => reject(new Error(`the snippet printed nothing; page errors: ${errors.join('; ')}`)), 60_000))]);
        expect(errors).toEqual([]);
        const [json, source] = [line.slice(0, line.lastIndexOf(' ')), line.slice(line.lastIndexOf(' ') + 1)];
        expect(source).toBe('service');
        const items = JSON.parse(json) as Array<{ id: string; score: number }>;
        expect(items).toHaveLength(2);
        const candidates = /topK\('user-1', (\[[^\]]*\])/.exec(snippet)![1].replace(/'/g, '"');
        for (const item of items) {
          expect(JSON.parse(candidates)).toContain(item.id);
          expect(Number.isFinite(item.score)).toBe(true);
        }
        expect(items[0].score).toBeGreaterThanOrEqual(items[1].score);
      } finally {
        await context.close();
      }
    }, 120_000);
  });
});
