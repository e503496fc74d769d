import { describe, expect, it } from 'vitest';
import { readSequenceFile } from '../../src/data/read_sequence_file.js';
import { tmpDir, writeFixture } from './fixtures.js';

const dir = tmpDir();

describe('readSequenceFile', () => {
  it('reads users and items (tabs, runs of spaces, CRLF, BOM, blank lines)', async () => {
    const file = writeFixture(dir, 'seq.txt',
      '\uFEFFu1 10 11  12\r\n\r\nu2\t11\t13\r\n   \r\nu3\r\nu1 99\n');
    expect(await readSequenceFile(file)).toEqual([
      { user: 'u1', items: ['10', '11', '12'] },
      { user: 'u2', items: ['11', '13'] },
      { user: 'u3', items: [] },
      { user: 'u1', items: ['99'] },
    ]);
  });

  it('handles a file without a trailing newline and a missing file', async () => {
    const file = writeFixture(dir, 'seq2.txt', '1 2 3');
    expect(await readSequenceFile(file)).toEqual([{ user: '1', items: ['2', '3'] }]);
    await expect(readSequenceFile(`${dir}/missing.txt`)).rejects.toThrow(
      /'readSequenceFile' cannot read '.*missing\.txt'/);
  });
});
