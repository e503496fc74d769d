/**
 * The browser example's page: loads the device model, asks `duet-tf serve` for parameters as you
 * click, and ranks the catalogue on the device. Bundled by `examples/browser/build.ts`.
 *
 * In an app, import the runtime from the package: `import { createDeviceRuntime } from
 * 'duet-tf/device'`; the example imports the source so it runs without building the package.
 */
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';

import {
  always, createDeviceRuntime, DeviceParameters, DeviceRuntime, ScoredItem,
} from '../../../src/device/index';

interface CatalogueItem { id: number; name: string; genre: string }
interface Catalogue { clickLength: number; items: CatalogueItem[] }
interface PageConfig {
  serviceUrl: string;
  format?: 'f32' | 'f16' | 'int8';
  timeoutMs?: number;
  cacheTtlMs?: number;
}

const $ = (id: string) => document.getElementById(id) as HTMLElement;

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return await r.json() as T;
}

/** The device model's inputs but the parameters, one row per candidate. */
function buildInputs(runtime: () => DeviceRuntime, clickLength: number) {
  return (candidates: readonly number[], history: readonly number[]): tf.Tensor[] => {
    const model = runtime().model;
    const n = candidates.length;
    return model.inputs.slice(0, -1).map((input) => {
      const name = input.sourceLayer?.name ?? input.name;
      const dtype = input.dtype === 'int32' ? 'int32' : 'float32';
      if (name.startsWith('target')) return tf.tensor2d(candidates as number[], [n, 1], dtype);
      if (name.startsWith('click')) {
        // The last clicks, oldest first, right-padded with 0: as in the training data.
        const row = new Array<number>(clickLength).fill(0);
        history.slice(-clickLength).forEach((id, i) => { row[i] = id; });
        return tf.tidy(() => tf.tile(tf.tensor2d([row], [1, clickLength], dtype), [n, 1]));
      }
      throw new Error(`the device model has an input '${name}' this page cannot fill`);
    });
  };
}

async function main(): Promise<void> {
  // wasm ranks the catalogue many times faster than plain JS; cpu is the fallback.
  setWasmPaths(new URL('./wasm/', location.href).href);
  let backend = 'cpu';
  try {
    if (await tf.setBackend('wasm')) backend = 'wasm';
  } catch {
    // No WebAssembly here: plain JS below.
  }
  if (backend !== 'wasm') await tf.setBackend('cpu');
  document.body.dataset.backend = backend;
  const [config, catalogue] = await Promise.all([
    getJson<PageConfig>('./config.json'), getJson<Catalogue>('./catalogue.json'),
  ]);
  const byId = new Map(catalogue.items.map((item) => [item.id, item]));
  const format = config.format ?? 'f16';

  // The runtime uses the browser's own fetch (no 'fetch' option): the bytes each answer carries
  // come from its stats, the request's duration from the browser's resource timing.
  let lastBytes = 0;
  let lastFetchMs = 0;
  const parametersUrl = `${config.serviceUrl.replace(/\/+$/, '')}/v1/parameters`;
  const lastRequestMs = () => {
    const entries = performance.getEntriesByType('resource').filter((e) => e.name.startsWith(parametersUrl));
    performance.clearResourceTimings(); // the buffer holds 250 entries by default
    return entries.at(-1)?.duration ?? 0;
  };

  let runtime: DeviceRuntime | null = null;
  runtime = await createDeviceRuntime({
    model: new URL('./model/device/model.json', location.href).href,
    serviceUrl: config.serviceUrl,
    format,
    timeoutMs: config.timeoutMs ?? 1500,
    cacheTtlMs: config.cacheTtlMs ?? 60_000,
    retryAfterMs: 0, // a demo: try the service again on every click
    policy: always(),
    inputs: buildInputs(() => runtime as DeviceRuntime, catalogue.clickLength),
  });
  const rt = runtime;

  let user = 1;
  let previous = new Set<number>();
  let updates = 0;

  // Catalogue, grouped by genre.
  const root = $('catalogue');
  root.textContent = '';
  const genres = [...new Set(catalogue.items.map((i) => i.genre))];
  for (const genre of genres) {
    const box = document.createElement('div');
    box.className = 'genre';
    box.innerHTML = `<h3></h3><div class="items"></div>`;
    (box.querySelector('h3') as HTMLElement).textContent = genre;
    const list = box.querySelector('.items') as HTMLElement;
    for (const item of catalogue.items.filter((i) => i.genre === genre)) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'item';
      b.dataset.id = String(item.id);
      b.title = `item ${item.id}`;
      b.textContent = item.name;
      b.addEventListener('click', () => {
        rt.observe(`user${user}`, item.id);
        b.classList.add('clicked');
        void update();
      });
      list.appendChild(b);
    }
    root.appendChild(box);
  }
  $('reset').addEventListener('click', () => {
    user++;
    previous = new Set();
    document.querySelectorAll('button.item.clicked').forEach((b) => b.classList.remove('clicked'));
    void update();
  });

  const showStatus = (p: DeviceParameters, ms: number, ranked: number) => {
    const where = `on this device (${backend})`;
    const status = $('status');
    status.dataset.source = p.source;
    status.dataset.reason = p.reason ?? '';
    status.dataset.state = p.reason === null ? 'ok' : p.reason === 'no-history' ? 'idle' : 'fallback';
    status.textContent = '';
    const head = document.createElement('strong');
    const detail = document.createElement('span');
    if (p.reason === 'no-history') {
      head.textContent = 'No clicks yet: ranking with the static model.';
    } else if (p.reason !== null) {
      head.textContent = `Fallback (${p.reason}): ` + (p.source === 'cache' ?
        'using the last parameters the service sent.' : 'using the static base model.');
      detail.className = 'reason';
      detail.textContent = p.message ?? '';
    } else if (p.source === 'service') {
      head.textContent = `Personalised by the service: ${p.values.length} parameters ` +
        `(${format}, ${lastBytes} bytes) in ${lastFetchMs.toFixed(0)} ms.`;
      detail.className = 'detail';
      detail.textContent = `${ranked} items ranked ${where} in ${Math.max(0, ms - lastFetchMs).toFixed(0)} ms`;
    } else {
      head.textContent = `Using cached parameters (source: ${p.source}).`;
    }
    status.append(head, detail);
  };

  const showTop = (items: ScoredItem[]) => {
    const ol = $('top5');
    ol.textContent = '';
    items.forEach((s, rank) => {
      const item = byId.get(s.id);
      const li = document.createElement('li');
      li.dataset.id = String(s.id);
      li.dataset.score = String(s.score);
      if (previous.size > 0 && !previous.has(s.id)) li.className = 'new';
      li.innerHTML = `<span class="rank"></span><span><span class="name"></span><span class="tag"></span></span>` +
        `<span class="score"></span>`;
      (li.querySelector('.rank') as HTMLElement).textContent = String(rank + 1);
      (li.querySelector('.name') as HTMLElement).textContent = item?.name ?? `item ${s.id}`;
      (li.querySelector('.tag') as HTMLElement).textContent = item?.genre ?? '';
      (li.querySelector('.score') as HTMLElement).textContent = s.score.toFixed(3);
      ol.appendChild(li);
    });
    previous = new Set(items.map((s) => s.id));
  };

  const render = async () => {
    const id = `user${user}`;
    const history = rt.history(id);
    const clicked = new Set(history);
    const candidates = catalogue.items.map((i) => i.id).filter((i) => !clicked.has(i));
    const began = performance.now();
    const bytesBefore = rt.stats().bytesReceived;
    const { items, parameters } = await rt.topK(id, candidates, 5);
    lastBytes = rt.stats().bytesReceived - bytesBefore;
    lastFetchMs = parameters.requested ? lastRequestMs() : 0;
    showStatus(parameters, performance.now() - began, candidates.length);
    showTop(items);
    const h = $('history');
    h.textContent = '';
    for (const i of history.slice(-12)) {
      const chip = document.createElement('span');
      chip.textContent = byId.get(i)?.name ?? String(i);
      h.appendChild(chip);
    }
    const s = rt.stats();
    const failures = Object.entries(s.failures).filter(([k, v]) => v > 0 && k !== 'no-history')
      .map(([k, v]) => `${k} ${v}`).join(', ');
    $('stats').textContent = `requests ${s.requests} · answered ${s.successes} · static model ` +
      `${s.baseUses}× · cached parameters ${s.cacheHits}×${failures ? ` · failures: ${failures}` : ''}`;
    $('error').textContent = '';
    document.body.dataset.updates = String(++updates);
  };

  // Clicks can come faster than updates: run them one after another.
  let chain: Promise<void> = Promise.resolve();
  const update = () => {
    chain = chain.then(render).catch((e: unknown) => {
      $('error').textContent = `error: ${(e as Error)?.message ?? String(e)}`;
      document.body.dataset.updates = String(++updates);
    });
    return chain;
  };
  await update();
  document.body.dataset.ready = 'true';
}

main().catch((e: unknown) => {
  $('error').textContent = `the page failed to start: ${(e as Error)?.stack ?? String(e)}`;
  document.body.dataset.ready = 'error';
});
