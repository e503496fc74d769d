import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

import {
  buildSeqLooSplit, seqLooHistory, seqLooTarget, seqLooTrainSequence,
} from '../../../src/data/protocols/seq_loo.js';
import { readSeqLooSplit, writeSeqLooSplit, isSeqLooFolder } from '../../../src/data/protocols/seq_loo_io.js';
import { readSequenceFile } from '../../../src/data/read_sequence_file.js';
import type { UserSequence } from '../../../src/data/types.js';
import { tmpDir, writeFixture } from '../fixtures.js';

const dir = tmpDir();

describe('buildSeqLooSplit', () => {
  const users: UserSequence[] = [
    { user: 'ann', items: ['x', 'y', 'z', 'w', 'y'] }, // items 1 2 3 4 2: a repeat
    { user: 'bob', items: ['q', 'r'] },                 // dropped: 2 interactions
    { user: 'cat', items: ['y', 'v', 'x'] },            // items 2 5 1
    { user: 'dan', items: [] },                         // dropped
    { user: 'eve', items: ['v', 'u', 'w', 'x', 't', 'z'] }, // 5 6 4 1 7 3
  ];

  it('lays out targets, histories and counts as seq-loo-v1 says', () => {
    const split = buildSeqLooSplit(users, { source: 'hand' });
    expect(split.protocol).toEqual({
      protocol: 'seq-loo-v1', source: 'hand', users: 3, items: 7, id_vocab: 8, interactions: 14,
      dropped_users: 2, train_targets: 2 + 0 + 3, validation_users: 3, test_users: 3, max_len: 50,
      min_interactions: 3, item_ids: 'first-appearance', user_ids: 'first-appearance',
    });
    expect(split.userMap.originals).toEqual(['ann', 'cat', 'eve']);
    expect(split.itemMap.originals).toEqual(['x', 'y', 'z', 'w', 'v', 'u', 't']);
    // ann: s = 1 2 3 4 2 → test 2 after 1 2 3 4, validation 4 after 1 2 3, training 1 2 3.
    expect(seqLooTarget(split, 1, 'test')).toBe(2);
    expect(Array.from(seqLooHistory(split, 1, 'test'))).toEqual([1, 2, 3, 4]);
    expect(seqLooTarget(split, 1, 'validation')).toBe(4);
    expect(Array.from(seqLooHistory(split, 1, 'validation'))).toEqual([1, 2, 3]);
    expect(Array.from(seqLooTrainSequence(split, 1))).toEqual([1, 2, 3]);
    // cat: three items, so a one-item training sequence (no training target).
    expect(Array.from(seqLooTrainSequence(split, 2))).toEqual([2]);
    expect(seqLooTarget(split, 2, 'validation')).toBe(5);
    expect(seqLooTarget(split, 2, 'test')).toBe(1);
    // eve: 5 6 4 1 7 3.
    expect(Array.from(seqLooTrainSequence(split, 3))).toEqual([5, 6, 4, 1]);
    expect(seqLooTarget(split, 3, 'test')).toBe(3);
    expect(Array.from(split.offsets)).toEqual([0, 5, 8, 14]);
  });

  it('keeps ids that already are 1..N, and says so', () => {
    const split = buildSeqLooSplit([
      { user: '2', items: ['3', '1', '2'] },
      { user: '1', items: ['2', '4', '3', '1'] },
    ]);
    expect(split.protocol.item_ids).toBe('kept');
    expect(split.protocol.user_ids).toBe('kept');
    // User '1' is internal user 1 although it comes second.
    expect(Array.from(split.items.subarray(split.offsets[0], split.offsets[1]))).toEqual([2, 4, 3, 1]);
    expect(Array.from(split.items.subarray(split.offsets[1], split.offsets[2]))).toEqual([3, 1, 2]);
    // A gap in the ids (no item '3' among kept users) means re-indexing.
    const gap = buildSeqLooSplit([{ user: '1', items: ['1', '2', '4'] }]);
    expect(gap.protocol.item_ids).toBe('first-appearance');
    expect(Array.from(gap.items)).toEqual([1, 2, 3]);
    expect(gap.itemMap.originals).toEqual(['1', '2', '4']);
    expect(split.userMap.originals).toEqual(['1', '2']);
    // '01' is not the integer 1 as an id.
    expect(buildSeqLooSplit([{ user: '1', items: ['01', '2', '3'] }]).protocol.item_ids).toBe('first-appearance');
  });

  it('refuses bad input with errors naming it', () => {
    expect(() => buildSeqLooSplit([{ user: 'a', items: ['1', '2', '3'] }, { user: 'a', items: ['4', '5', '6'] }]))
      .toThrow(/list user 'a' twice \(entries 0 and 1\)/);
    expect(() => buildSeqLooSplit([{ user: 'a' } as unknown as UserSequence])).toThrow(/'users\[0\]'/);
    expect(() => buildSeqLooSplit([], { maxLen: 0 })).toThrow(/'maxLen'/);
    expect(() => buildSeqLooSplit([], { maxlen: 5 } as never)).toThrow(/unknown option 'maxlen'/);
    const split = buildSeqLooSplit(users);
    expect(() => seqLooTarget(split, 4, 'test')).toThrow(/1\.\.3/);
    expect(() => seqLooHistory(split, 1, 'train' as never)).toThrow(/'part'/);
  });
});

describe('seq-loo-v1 folders', () => {
  it('round-trips through writeSeqLooSplit / readSeqLooSplit, id maps included', async () => {
    const file = writeFixture(dir, 'seqs.txt', 'u1 a b c d\nu2 b e\n\nu3 e f a b c\n');
    const split = buildSeqLooSplit(await readSequenceFile(file), { source: 'seqs.txt', maxLen: 3 });
    const out = path.join(dir, 'loo');
    await writeSeqLooSplit(out, split);
    expect(fs.readFileSync(path.join(out, 'sequences.txt'), 'utf8')).toBe('1 1 2 3 4\n2 5 6 1 2 3\n');
    expect(fs.readFileSync(path.join(out, 'items.tsv'), 'utf8').split('\n').slice(0, 3)).toEqual(['index\tid', '1\ta', '2\tb']);
    expect(await isSeqLooFolder(out)).toBe(true);
    expect(await isSeqLooFolder(dir)).toBe(false);
    const back = await readSeqLooSplit(out);
    expect(back.protocol).toEqual(split.protocol);
    expect(Array.from(back.items)).toEqual(Array.from(split.items));
    expect(Array.from(back.offsets)).toEqual(Array.from(split.offsets));
    expect(back.itemMap.originals).toEqual(split.itemMap.originals);
    expect(back.userMap.originals).toEqual(['u1', 'u3']);
  });

  it('names the file and line of every problem', async () => {
    const make = async (name: string, sequences: string, protocol: Record<string, unknown> = {}) => {
      const out = path.join(dir, name);
      fs.mkdirSync(out, { recursive: true });
      fs.writeFileSync(path.join(out, 'protocol.json'), JSON.stringify({
        protocol: 'seq-loo-v1', users: 2, items: 5, max_len: 50, ...protocol,
      }));
      fs.writeFileSync(path.join(out, 'sequences.txt'), sequences);
      return out;
    };
    await expect(readSeqLooSplit(await make('order', '1 1 2 3\n3 1 2 3\n')))
      .rejects.toThrow(/order[/\\]sequences\.txt:2: expected user 2/);
    await expect(readSeqLooSplit(await make('range', '1 1 2 3\n2 1 9 3\n')))
      .rejects.toThrow(/range[/\\]sequences\.txt:2: item '9' is not an id in 1\.\.5/);
    await expect(readSeqLooSplit(await make('short', '1 1 2\n')))
      .rejects.toThrow(/short[/\\]sequences\.txt:1: user 1 has 2 items/);
    await expect(readSeqLooSplit(await make('count', '1 1 2 3\n')))
      .rejects.toThrow(/has 1 users, .* says 2/);
    await expect(readSeqLooSplit(await make('other', '1 1 2 3\n', { protocol: 'duet-seq-v1' })))
      .rejects.toThrow(/is protocol "duet-seq-v1", not 'seq-loo-v1'/);
    await expect(readSeqLooSplit(path.join(dir, 'missing'))).rejects.toThrow(/has no protocol\.json/);
  });
});
