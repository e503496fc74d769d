import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

import { describe, expect, it } from 'vitest';

describe('README', () => {
  const readme = fs.readFileSync('README.md', 'utf8');
  const example = fs.readFileSync('examples/readme.ts', 'utf8');

  it('shows examples/readme.ts verbatim as its first code example', () => {
    const firstTs = /```ts\n([\s\S]*?)```/.exec(readme);
    expect(firstTs?.[1].trim()).toBe(example.trim());
  });

  it('shows the two fresh-clone commands', () => {
    expect(readme).toContain('npm install && npm run example');
    expect(readme).toContain('npm install && npm test');
  });

  it('runs its example as printed', () => {
    const out = execFileSync('npx', ['tsx', 'examples/readme.ts'], { encoding: 'utf8', timeout: 120_000 });
    // The device's score for one user: one probability.
    const match = /Float32Array\(1\) \[ ([0-9.e-]+) \]/.exec(out);
    expect(match, out).not.toBeNull();
    const p = Number(match![1]);
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1);
  });
});
