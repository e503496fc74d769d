/**
 * The service speaks the user's item ids: with an item map (items.tsv beside the model, or the
 * `items` option) `sequence(s)` hold original ids, unknown ones get a 400 naming them or are
 * skipped on request; and a POST without `Accept` gets JSON, not binary.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { IdMap, ITEM_MAP_FILE, writeIdMap } from '../../src/data/id_map';
import { decodePayload } from '../../src/serve/payload';
import { parseParametersRequest, RequestLimits } from '../../src/serve/requests';
import { createServer, ServerHandle } from '../../src/serve/server';
import { saveDuet } from '../../src/wrap/file_io';
import { json, post, request } from './http_client';
import { direct, maxDiff, tinyDuet, VOCAB } from './tiny_duet';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-serve-ids-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

// Item k (1..29) was 'sku-k' in the user's data, except 7, which was the number 7007.
const ORIGINALS = Array.from({ length: VOCAB - 1 }, (_, i) => (i + 1 === 7 ? '7007' : `sku-${i + 1}`));

describe('parseParametersRequest with an item map', () => {
  const limits: RequestLimits = { sequenceLength: 3, vocabSize: VOCAB, embeddingDim: 4, maxSequences: 4,
    items: new IdMap(ORIGINALS) };
  const code = (body: unknown, l = limits) => {
    try {
      parseParametersRequest(body, l);
    } catch (e) {
      return `${(e as { code: string }).code}: ${(e as Error).message}`;
    }
    return 'accepted';
  };

  it('maps original ids (strings, or numbers by their text) to indices; "ids": "internal" keeps indices', () => {
    expect(parseParametersRequest({ sequence: ['sku-3', 7007, 'sku-29'] }, limits)).toEqual([{ kind: 'ids', ids: [3, 7, 29] }]);
    expect(parseParametersRequest({ sequence: ['sku-1', 'sku-2', 'sku-3', 'sku-4'] }, limits)).toEqual([{ kind: 'ids', ids: [2, 3, 4] }]);
    expect(parseParametersRequest({ sequences: [['sku-5'], ['7007']] }, limits)).toEqual([{ kind: 'ids', ids: [5] }, { kind: 'ids', ids: [7] }]);
    expect(parseParametersRequest({ sequence: [3, 7], ids: 'internal' }, limits)).toEqual([{ kind: 'ids', ids: [3, 7] }]);
  });

  it('names unknown ids in a 400, or drops them with "unknownIds": "skip"', () => {
    expect(code({ sequence: ['sku-3', 'nope', 3] })).toBe(
      "unknown_ids: 'sequence' holds 2 item ids the model does not know: \"nope\", 3 (send \"unknownIds\": \"skip\" to drop them)");
    expect(code({ sequences: [['sku-1'], ['sku-99']] })).toMatch(/^unknown_ids: 'sequences'\[1\] holds 1 item id the model does not know: "sku-99"/);
    expect(parseParametersRequest({ sequence: ['sku-3', 'nope', 'sku-4'], unknownIds: 'skip' }, limits))
      .toEqual([{ kind: 'ids', ids: [3, 4] }]);
    expect(parseParametersRequest({ sequence: ['x', 'sku-2'] }, { ...limits, unknownIds: 'skip' })).toEqual([{ kind: 'ids', ids: [2] }]);
    expect(code({ sequence: ['x', 'y'], unknownIds: 'skip' })).toBe(
      "empty_sequence: 'sequence' holds no item id the model knows (unknown: \"x\", \"y\")");
    const many = Array.from({ length: 12 }, (_, i) => `u${i}`);
    expect(code({ sequence: many })).toMatch(/holds 12 item ids the model does not know: "u0", .*"u9", … \(send/);
  });

  it('refuses what does not fit, naming it', () => {
    expect(code({ sequence: ['sku-1', null] })).toBe("invalid_ids: 'sequence'[1] is null; item ids are strings or numbers, as in your data");
    expect(code({ sequence: [true] })).toMatch(/^invalid_ids: 'sequence'\[0\] is boolean true/);
    expect(code({ sequence: ['sku-1'], ids: 'mine' })).toBe('bad_request: \'ids\' must be "original" or "internal", got "mine"');
    expect(code({ sequence: ['sku-1'], unknownIds: 'drop' })).toMatch(/^bad_request: 'unknownIds' must be "error" or "skip"/);
    expect(code({ embeddings: [[1, 2, 3, 4]], ids: 'original' })).toBe("bad_request: 'ids' applies to 'sequence' and 'sequences' only, not to 'embeddings'");
    expect(code({ ids: 'original' })).toMatch(/^bad_request: the body must have exactly one of/);
    // Without a map, ids are indices, and asking for original ids says why not.
    const bare = { ...limits, items: null };
    expect(code({ sequence: ['sku-1'] }, bare)).toMatch(/^invalid_ids: 'sequence'\[0\] is a string; item ids must be integers in 1\.\.29/);
    expect(code({ sequence: [1], ids: 'original' }, bare)).toMatch(/^unsupported_request: this model has no item map \(items\.tsv beside it\)/);
  });
});

describe('createServer with items.tsv beside the model', () => {
  const { duet, generator } = tinyDuet();
  let server: ServerHandle;
  let url: string;

  beforeAll(async () => {
    const dir = path.join(root, 'model');
    await saveDuet(duet, dir);
    await writeIdMap(path.join(dir, ITEM_MAP_FILE), new IdMap(ORIGINALS));
    server = await createServer({ model: dir });
    ({ url } = await server.listen(0));
  });
  afterAll(() => server?.close());

  it('answers parameters for original ids, equal to the generator on their indices', async () => {
    const r = await post(`${url}/v1/parameters`, { sequence: ['sku-4', 7007, 'sku-2'] }, { Accept: 'application/json' });
    expect(r.status).toBe(200);
    expect(maxDiff(json(r).parameters[0], direct(generator, [4, 7, 2]))).toBeLessThan(1e-6);
    const bad = await post(`${url}/v1/parameters`, { sequence: ['sku-4', 'B000'] });
    expect(bad.status).toBe(400);
    expect(json(bad).error).toEqual({ code: 'unknown_ids',
      message: "'sequence' holds 1 item id the model does not know: \"B000\" (send \"unknownIds\": \"skip\" to drop them)" });
    const model = json(await request(`${url}/v1/model`));
    expect(model).toMatchObject({ ids: 'original', items: VOCAB - 1, unknownIds: 'error' });
  });

  it('answers JSON to a POST without Accept (or Accept: */*), binary when asked for it', async () => {
    const body = JSON.stringify({ sequence: ['sku-1', 'sku-2'] });
    for (const headers of [{}, { Accept: '*/*' }] as Record<string, string>[]) {
      const r = await request(`${url}/v1/parameters`, { method: 'POST', headers, body });
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(maxDiff(json(r).parameters[0], direct(generator, [1, 2]))).toBeLessThan(1e-6);
    }
    for (const [target, headers] of [[`${url}/v1/parameters`, { Accept: 'application/octet-stream' }],
      [`${url}/v1/parameters?format=f16`, {}], [`${url}/v1/parameters`, { 'X-Duet-Format': 'int8' }]] as const) {
      const r = await request(target, { method: 'POST', headers, body });
      expect(r.headers['content-type'], target).toBe('application/octet-stream');
      expect(maxDiff(decodePayload(new Uint8Array(r.body)).values, direct(generator, [1, 2]))).toBeLessThan(0.05);
    }
  });

  it('an in-memory model takes the map as an option; without one, ids are indices', async () => {
    const mapped = await createServer({ model: generator, items: ORIGINALS, unknownIds: 'skip' });
    const bare = await createServer({ model: generator });
    try {
      const a = await mapped.listen(0);
      const r = await post(`${a.url}/v1/parameters`, { sequence: ['sku-9', 'unknown'] }, { Accept: 'application/json' });
      expect(maxDiff(json(r).parameters[0], direct(generator, [9]))).toBeLessThan(1e-6);
      const b = await bare.listen(0);
      expect(json(await request(`${b.url}/v1/model`))).toMatchObject({ ids: 'internal', items: null });
    } finally {
      await Promise.all([mapped.close(), bare.close()]);
    }
    await expect(createServer({ model: generator, unknownIds: 'drop' as 'skip' })).rejects.toThrow(
      "'unknownIds' passed to 'createServer' must be 'error' or 'skip', got \"drop\"");
  });
});
