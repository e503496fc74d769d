// Temp-dir fixtures shared by the data tests.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll } from 'vitest';
import type { DuetDataset } from '../../src/data/types.js';

/** A fresh temp dir, removed after the calling test file. */
export function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-data-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `text` to `dir/name` and returns the path. */
export function writeFixture(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

/** Row `r` as `user;target;trigger;click;label`, for multiset comparisons. */
export function rowText(ds: DuetDataset, r: number): string {
  const T = ds.triggerLength;
  const L = ds.clickLength;
  return `${ds.user[r]};${ds.target[r]};${Array.from(ds.trigger.subarray(r * T, r * T + T))};` +
    `${Array.from(ds.click.subarray(r * L, r * L + L))};${ds.label[r]}`;
}

/** All rows as text, sorted (a multiset). */
export function rowSet(ds: DuetDataset, keep: (r: number) => boolean = () => true): string[] {
  const out: string[] = [];
  for (let r = 0; r < ds.size; r++) if (keep(r)) out.push(rowText(ds, r));
  return out.sort();
}

/** Whether two datasets hold the same values (fast, for large typed arrays). */
export function sameDataset(a: DuetDataset, b: DuetDataset): boolean {
  const bytes = (x: ArrayBufferView) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  return (['size', 'clickLength', 'triggerLength', 'numItems', 'numUsers'] as const)
    .every((k) => a[k] === b[k]) &&
    (['user', 'target', 'trigger', 'click', 'label'] as const)
      .every((k) => bytes(a[k]).equals(bytes(b[k])));
}
