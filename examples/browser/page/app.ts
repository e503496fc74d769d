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
  always, createDeviceRuntime, DeviceParameters, ScoredItem,
} from '../../../src/device/index';

/** `id`: the model's index; `key`: the item's own id, which the runtime takes and returns. */
interface CatalogueItem { id: number; key: string; name: string; genre: string }
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
  const byKey = new Map(catalogue.items.map((item) => [item.key, item]));
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

  // The device model carries the item map (stampDeviceModel), so the runtime takes and returns
  // the catalogue's own ids, and builds the SASRec inputs (target, click) by itself.
  const rt = await createDeviceRuntime({
    model: new URL('./model/device/model.json', location.href).href,
    serviceUrl: config.serviceUrl,
    format,
    timeoutMs: config.timeoutMs ?? 1500,
    cacheTtlMs: config.cacheTtlMs ?? 60_000,
    retryAfterMs: 0, // a demo: try the service again on every click
    policy: always(),
  });

  let user = 1;
  let previous = new Set<string>();
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
        rt.observe(`user${user}`, item.key);
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
      const item = byKey.get(String(s.id));
      const li = document.createElement('li');
      li.dataset.id = String(item?.id ?? s.id);
      li.dataset.key = String(s.id);
      li.dataset.score = String(s.score);
      if (previous.size > 0 && !previous.has(String(s.id))) li.className = 'new';
      li.innerHTML = `<span class="rank"></span><span><span class="name"></span><span class="tag"></span></span>` +
        `<span class="score"></span>`;
      (li.querySelector('.rank') as HTMLElement).textContent = String(rank + 1);
      (li.querySelector('.name') as HTMLElement).textContent = item?.name ?? `item ${s.id}`;
      (li.querySelector('.tag') as HTMLElement).textContent = item?.genre ?? '';
      (li.querySelector('.score') as HTMLElement).textContent = s.score.toFixed(3);
      ol.appendChild(li);
    });
    previous = new Set(items.map((s) => String(s.id)));
  };

  const render = async () => {
    const id = `user${user}`;
    const history = rt.history(id);
    const clicked = new Set(history.map(String));
    const candidates = catalogue.items.map((i) => i.key).filter((key) => !clicked.has(key));
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
      chip.textContent = byKey.get(String(i))?.name ?? String(i);
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
