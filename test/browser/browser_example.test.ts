/**
 * The device–cloud loop end to end, as a user runs it: `duet-tf prepare --synthetic`, `duet-tf
 * train --variant duet` (the CLI), the browser example publishing that model (`--model-dir`),
 * `duet-tf serve` on it in a child process, and the page in headless Chromium: it loads the
 * device model, gets parameters from the service as items are clicked, and falls back, showing
 * why, once the service is stopped. Needs Debian's chromium (`apt-get install -y chromium`);
 * skipped without it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildBrowserExample } from '../../examples/browser/build';
import { exportForBrowser, PreparedExample } from '../../examples/browser/prepare';
import { ServeChild, spawnServe } from '../../examples/browser/start';
import { PageConfig, startStaticServer } from '../../examples/browser/static_server';
import { useBackend } from '../../src/backend/use_backend';
import { loadDuet } from '../../src/wrap/file_io';
import { cli } from '../cli/helpers';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = fs.existsSync(CHROMIUM);
const title = hasChromium ? 'browser example in headless Chromium' :
  `browser example in headless Chromium — SKIPPED: ${CHROMIUM} not found (apt-get install -y chromium)`;
if (!hasChromium) console.warn(`test/browser: skipped, ${CHROMIUM} is absent (apt-get install -y chromium)`);

/** Scores of `candidates` for a history, by a model with inputs [target, click(, params)]. */
function scores(model: tfl.LayersModel, candidates: number[], history: number[], clickLength: number,
    params?: Float32Array): Map<number, number> {
  const row = new Array<number>(clickLength).fill(0);
  history.slice(-clickLength).forEach((id, i) => { row[i] = id; });
  const n = candidates.length;
  const out = tf.tidy(() => {
    const inputs = [tf.tensor2d(candidates, [n, 1]), tf.tile(tf.tensor2d([row]), [n, 1])];
    if (params !== undefined) inputs.push(tf.tile(tf.tensor2d(params, [1, params.length]), [n, 1]));
    return model.predict(inputs) as tf.Tensor;
  });
  const values = out.dataSync();
  out.dispose();
  return new Map(candidates.map((id, i) => [id, values[i]]));
}

interface Shown { ids: number[]; scores: number[]; source: string; reason: string; text: string }

async function shown(page: Page): Promise<Shown> {
  return page.evaluate(() => {
    const items = Array.from(document.querySelectorAll<HTMLElement>('#top5 li'));
    const status = document.getElementById('status') as HTMLElement;
    return {
      ids: items.map((li) => Number(li.dataset.id)),
      scores: items.map((li) => Number(li.dataset.score)),
      source: status.dataset.source ?? '', reason: status.dataset.reason ?? '',
      text: status.textContent ?? '',
    };
  });
}

/** Clicks catalogue item `id` and waits for the page to re-rank. */
async function click(page: Page, id: number): Promise<void> {
  const before = await page.evaluate(() => Number(document.body.dataset.updates ?? 0));
  await page.click(`button.item[data-id="${id}"]`);
  await page.waitForFunction((n) => Number(document.body.dataset.updates ?? 0) > n, before,
    { timeout: 15_000 });
}

/** The page shows the model's best 5 with the model's scores (near-ties may swap places). */
function expectTop5(got: Shown, expected: Map<number, number>): void {
  const best = [...expected.values()].sort((a, b) => b - a);
  expect(got.ids).toHaveLength(5);
  got.ids.forEach((id, i) => {
    const score = expected.get(id);
    expect(score, `item ${id} is not a candidate`).toBeDefined();
    expect(Math.abs(got.scores[i] - (score as number))).toBeLessThan(1e-3);
    expect(score as number).toBeGreaterThanOrEqual(best[4] - 1e-4);
  });
}

describe.skipIf(!hasChromium)(title, () => {
  let root: string;
  let prepared: PreparedExample;
  let service: ServeChild;
  let site: Awaited<ReturnType<typeof startStaticServer>>;
  let context: BrowserContext;
  let page: Page;
  let full: tfl.LayersModel;
  let device: tfl.LayersModel;
  const pageErrors: string[] = [];
  const config: PageConfig = { serviceUrl: 'http://127.0.0.1:9', format: 'f32', cacheTtlMs: 0, timeoutMs: 5000 };
  const clicked: number[] = [];

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-browser-'));
    const out = path.join(root, 'site');
    const dataDir = path.join(root, 'data');
    const modelDir = path.join(root, 'model');
    // Tiny: one epoch of DUET on 40 users, the test checks the plumbing, not the
    // accuracy; trained on wasm, ~10x faster on this model than the cpu backend tests run on.
    try {
      const data = await cli('prepare', '--synthetic', '--users', '40', '--items', '120', '--out', dataDir);
      expect(data.code, data.stderr).toBe(0); // (stderr: the tiny set's warning)
      const trained = await cli('train', '--model', 'sasrec', '--variant', 'duet', '--data', dataDir,
        '--epochs', '1', '--batch', '128', '--out', modelDir, '--backend', 'wasm', '--json');
      expect(trained.code, trained.stderr).toBe(0);
    } finally {
      await useBackend('cpu');
    }
    prepared = await exportForBrowser({ modelDir, out, log: () => undefined });
    expect(prepared.fullDir).toBe(modelDir);
    await buildBrowserExample(out);
    site = await startStaticServer({ root: out, config: () => config });
    service = await spawnServe({ modelDir: prepared.fullDir, port: 0, backend: 'cpu',
      corsOrigin: site.url.replace(/\/$/, ''), timeoutMs: 40_000 });
    config.serviceUrl = service.url;
    full = await loadDuet(prepared.fullDir);
    device = await loadDuet(prepared.deviceDir);
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(path.join(root, 'profile'), {
      executablePath: CHROMIUM, headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = context.pages()[0] ?? await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(site.url);
    await page.waitForFunction(() => document.body.dataset.ready !== undefined, undefined, { timeout: 30_000 });
  }, 100_000);

  afterAll(async () => {
    await context?.close();
    await service?.stop();
    await site?.close();
    full?.dispose();
    device?.dispose();
    if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
  });

  it('ranks with parameters from the service, and the top 5 changes as items are clicked', async () => {
    // The page creates its runtime without a 'fetch' option: requests go through Chromium's own
    // fetch, the default every app gets (called as a method of another object, it throws).
    expect(fs.readFileSync(path.join(__dirname, '../../examples/browser/page/app.ts'), 'utf8')).not.toMatch(/\bfetch:/);
    expect(await page.evaluate(() => document.body.dataset.ready)).toBe('true');
    // Chromium has WebAssembly: the page ranks on tfjs' wasm backend (checked against cpu below).
    expect(await page.evaluate(() => document.body.dataset.backend)).toBe('wasm');
    const first = await shown(page);
    expect(first.reason).toBe('no-history');
    const all = prepared.catalogue.map((i) => i.id);
    // Before any click: the static model (zero parameters, residual layers) on an empty history.
    expectTop5(first, scores(device, all, [], prepared.clickLength, new Float32Array(prepared.total)));

    // Click three items of the genre the initial list ranks lowest.
    const genreOf = new Map(prepared.catalogue.map((i) => [i.id, i.genre]));
    const topGenres = new Set(first.ids.map((id) => genreOf.get(id)));
    const genre = prepared.catalogue.find((i) => !topGenres.has(i.genre))?.genre ?? prepared.catalogue[0].genre;
    const picks = prepared.catalogue.filter((i) => i.genre === genre).slice(0, 3).map((i) => i.id);
    const lists: number[][] = [first.ids];
    for (const id of picks) {
      await click(page, id);
      clicked.push(id);
      const now = await shown(page);
      expect(now.source).toBe('service');
      expect(now.reason).toBe('');
      expect(now.text).toMatch(/Personalised by the service: \d+ parameters \(f32, \d+ bytes\)/);
      // The page's ranking is the full DUET model's for this history (parameters from the service).
      const candidates = all.filter((i) => !clicked.includes(i));
      expectTop5(now, scores(full, candidates, clicked, prepared.clickLength));
      lists.push(now.ids);
    }
    expect(lists.at(-1)).not.toEqual(lists[0]);
    expect(new Set(lists.map((l) => l.join())).size).toBeGreaterThan(1);
    await page.screenshot({ path: '/tmp/duet-browser-example-service.png', fullPage: true });
  }, 60_000);

  it('falls back to the static model, showing the reason, once the service is stopped', async () => {
    expect(clicked.length).toBeGreaterThan(0);
    await service.stop();
    const next = prepared.catalogue.find((i) => !clicked.includes(i.id) && i.genre !== prepared.catalogue[0].genre)!.id;
    await click(page, next);
    clicked.push(next);
    const now = await shown(page);
    expect(now.reason).toBe('unreachable');
    expect(now.source).toBe('base'); // cacheTtlMs 0: nothing cached to fall back on
    expect(now.text).toMatch(/Fallback \(unreachable\): using the static base model/);
    expect(await page.getAttribute('#status', 'data-state')).toBe('fallback');
    const candidates = prepared.catalogue.map((i) => i.id).filter((i) => !clicked.includes(i));
    expectTop5(now, scores(device, candidates, clicked, prepared.clickLength, new Float32Array(prepared.total)));
    await page.screenshot({ path: '/tmp/duet-browser-example-fallback.png', fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
