import { describe, expect, it } from 'vitest';

import { looTable } from '../../bench/accuracy_loo';

const m = (hr: number) => ({ 'hr@5': hr / 2, 'ndcg@5': hr / 4, 'hr@10': hr, 'ndcg@10': hr / 2, 'hr@20': hr * 1.5, 'ndcg@20': hr * 0.6 });

describe('bench:accuracy seq-loo-v1 tables with DIN on sampled candidates', () => {
  it('keeps the popularity row of each candidate set apart', () => {
    const text = looTable([
      { model: 'din', variant: 'base', seed: 0, protocol: 'seq-loo-v1', candidates: '99-sampled', loss: 'bce', best_epoch: 2, epochs: 3, train_seconds: 10, ...m(0.4) },
      { model: 'popularity', variant: 'popularity', protocol: 'seq-loo-v1', candidates: '99-sampled', ...m(0.28) },
      { model: 'sasrec', variant: 'base', seed: 0, protocol: 'seq-loo-v1', loss: 'ce', best_epoch: 2, epochs: 3, train_seconds: 10, ...m(0.05) },
      { model: 'popularity', variant: 'popularity', protocol: 'seq-loo-v1', ...m(0.012) },
    ], []);
    expect(text).toContain('| popularity, 99-sampled candidates | – | 0.1400 | 0.0700 | 0.2800 |');
    expect(text).toContain('| popularity (the floor) | – | 0.0060 | 0.0030 | 0.0120 |');
    expect(text).toContain('| **base din, 99-sampled candidates** | 1 (seed 0) |');
  });
});
