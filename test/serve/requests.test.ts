import { describe, expect, it } from 'vitest';

import { parseParametersRequest, RequestLimits } from '../../src/serve/requests';
import { ServeError } from '../../src/serve/serve_error';

const IDS: RequestLimits = { sequenceLength: 3, vocabSize: 10, embeddingDim: null, maxSequences: 2 };
const BOTH: RequestLimits = { ...IDS, embeddingDim: 2 };

function fails(body: unknown, limits: RequestLimits, code: string, message: string) {
  try {
    parseParametersRequest(body, limits);
  } catch (e) {
    expect(e).toBeInstanceOf(ServeError);
    expect((e as ServeError).code).toBe(code);
    expect((e as ServeError).status).toBe(400);
    expect((e as ServeError).message).toContain(message);
    return;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

describe('parseParametersRequest', () => {
  it('accepts ids, keeping the last L items of long sequences', () => {
    expect(parseParametersRequest({ sequence: [1, 2] }, IDS)).toEqual([{ kind: 'ids', ids: [1, 2] }]);
    expect(parseParametersRequest({ sequence: [1, 2, 3, 4, 9] }, IDS)).toEqual([{ kind: 'ids', ids: [3, 4, 9] }]);
    expect(parseParametersRequest({ sequences: [[1], [2, 3]] }, IDS)).toEqual([{ kind: 'ids', ids: [1] }, { kind: 'ids', ids: [2, 3] }]);
  });

  it('accepts embeddings [time, dim] with the same length rule', () => {
    const rows = parseParametersRequest({ embeddings: [[1, 2], [3, 4], [5, 6], [7, 8]] }, BOTH);
    expect(rows).toEqual([{ kind: 'embeddings', vectors: Float32Array.from([3, 4, 5, 6, 7, 8]), time: 3 }]);
    expect(parseParametersRequest({ embeddingSequences: [[[1, 2]], [[0, 0], [1, 1]]] }, BOTH)).toHaveLength(2);
  });

  it('rejects every malformed body with a code and a message naming the problem', () => {
    fails(null, IDS, 'bad_request', 'must be a JSON object');
    fails([1, 2], IDS, 'bad_request', 'got an array');
    fails({ sequnce: [1] }, IDS, 'bad_request', 'unknown field "sequnce"');
    fails({ sequence: [1], sequences: [[1]] }, IDS, 'bad_request', 'exactly one of');
    fails({}, IDS, 'bad_request', 'exactly one of');
    fails({ sequence: '1,2' }, IDS, 'bad_request', "'sequence' must be an array of item ids, got a string");
    fails({ sequence: [] }, IDS, 'empty_sequence', "'sequence' is empty");
    fails({ sequence: [1, -1] }, IDS, 'invalid_ids', "'sequence'[1] is -1; item ids must be integers in 1..9");
    fails({ sequence: [10] }, IDS, 'invalid_ids', "'sequence'[0] is 10");
    fails({ sequence: [0] }, IDS, 'invalid_ids', '(0 is padding)');
    fails({ sequence: [1.5] }, IDS, 'invalid_ids', 'is 1.5');
    fails({ sequence: ['3'] }, IDS, 'invalid_ids', 'is a string');
    fails({ sequence: [null] }, IDS, 'invalid_ids', 'is null');
    fails({ sequence: [1e300] }, IDS, 'invalid_ids', 'is 1e+300');
    fails({ sequences: [] }, IDS, 'empty_sequence', "'sequences' holds no sequences");
    fails({ sequences: [[1], [1], [1]] }, IDS, 'too_many_sequences', 'at most 2 per request');
    fails({ sequences: [[1], 5] }, IDS, 'bad_request', "'sequences'[1] must be an array");
    fails({ sequences: [[1], []] }, IDS, 'empty_sequence', "'sequences'[1] is empty");
    fails({ embeddings: [[1, 2]] }, IDS, 'unsupported_request', 'cannot read embeddings');
    fails({ sequence: [1] }, { ...BOTH, vocabSize: null }, 'unsupported_request', 'reads embeddings, not item ids');
    fails({ embeddings: [[1, 2, 3]] }, BOTH, 'invalid_embeddings', "'embeddings'[0] must be an array of 2 numbers, got 3 values");
    fails({ embeddings: [[1, 'x']] }, BOTH, 'invalid_embeddings', "'embeddings'[0][1] is a string");
    fails({ embeddings: [] }, BOTH, 'empty_sequence', "'embeddings' is empty");
    fails({ embeddingSequences: [[[1, 2]], [[1]]] }, BOTH, 'invalid_embeddings', "'embeddingSequences'[1][0]");
  });
});
