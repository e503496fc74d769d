/**
 * The typedoc guides (docs/guides/*.md, listed in typedoc.json) each carry a runnable example:
 * every `ts` block that is not browser code (no `location.`) runs as printed under Node, its
 * `duet-tf` imports resolved to the source.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

import { afterAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TSX = pathToFileURL(path.join(REPO, 'node_modules/tsx/dist/loader.mjs')).href;
const guides = (JSON.parse(fs.readFileSync(path.join(REPO, 'typedoc.json'), 'utf8')).projectDocuments as string[]);
// Inside the repository, so the examples' own imports (@tensorflow/*) resolve from its node_modules.
const root = fs.mkdtempSync(path.join(REPO, '.tmp-guides-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** What each guide's example must print (a line matching each pattern). */
const EXPECTED: Record<string, RegExp[]> = {
  'wrap-your-model.md': [/^before training, DUET = your model: true$/m, /^\d+ parameters per user; device output shape \[4,1\]$/m],
  'train-on-your-data.md': [/^kept \d+ of 720 rows \(rated at least 4\)$/m, /^test AUC 0\.\d{3}$/m, /^\[ 'B\d{3}', 'B\d{3}', 'B\d{3}' \]$/m],
  'serve.md': [/^\d+ parameters for layers out$/m, /^400 'sequence' holds 1 item id the model does not know: "kiwi"/m],
  'device.md': [/^\[ 'song-\d+', 'song-\d+' \] service$/m],
};

describe('typedoc guides', () => {
  it('lists the four guides, the modules named duet-tf and duet-tf/device', () => {
    expect(guides.map((g) => path.basename(g))).toEqual(Object.keys(EXPECTED));
    expect(fs.readFileSync(path.join(REPO, 'src/index.ts'), 'utf8')).toMatch(/^ \* @module duet-tf$/m);
    expect(fs.readFileSync(path.join(REPO, 'src/device/index.ts'), 'utf8')).toMatch(/^ \* @module duet-tf\/device$/m);
  });

  for (const guide of guides) {
    it(`${path.basename(guide)}: its example runs as printed`, async () => {
      const text = fs.readFileSync(path.join(REPO, guide), 'utf8');
      const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => !b.includes('location.'));
      expect(blocks.length, guide).toBeGreaterThan(0);
      for (const [i, code] of blocks.entries()) {
        const file = path.join(root, `${path.basename(guide, '.md')}-${i}.mts`);
        fs.writeFileSync(file, code
          .replace(/from 'duet-tf\/device'/g, `from '${path.join(REPO, 'src/device/index.ts')}'`)
          .replace(/from 'duet-tf'/g, `from '${path.join(REPO, 'src/index.ts')}'`));
        const { stdout } = await promisify(execFile)(process.execPath, ['--import', TSX, file], { cwd: REPO, encoding: 'utf8' });
        for (const pattern of EXPECTED[path.basename(guide)]) expect(stdout, `${guide}\n${stdout}`).toMatch(pattern);
      }
    }, 90_000);
  }
});
