/**
 * `--help` and `-h` on every command: exit 0 whatever else is missing, every option of the
 * command's table listed with its default, and an example; negative numbers parse as values.
 */
import { execFileSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import { COMPARE_OPTIONS } from '../../src/cli/commands/compare';
import { EVAL_OPTIONS } from '../../src/cli/commands/eval';
import { PREPARE_OPTIONS } from '../../src/cli/commands/prepare';
import { SERVE_CLI_OPTIONS } from '../../src/cli/commands/serve';
import { TRAIN_OPTIONS } from '../../src/cli/commands/train';
import type { OptionSpec } from '../../src/cli/args';
import { cli } from './helpers';

const TABLES: Record<string, Record<string, OptionSpec>> = {
  prepare: PREPARE_OPTIONS, train: TRAIN_OPTIONS, eval: EVAL_OPTIONS, compare: COMPARE_OPTIONS,
  serve: SERVE_CLI_OPTIONS,
};

describe('duet-tf <command> --help', () => {
  for (const [command, options] of Object.entries(TABLES)) {
    it(`${command}: -h and --help print every option with its default and an example, exit 0`, async () => {
      const long = await cli(command, '--help');
      const short = await cli(command, '-h');
      // Whatever else is on the line (or missing: no --out, --data, --model-dir here).
      const mixed = await cli(command, '--json', '--help', '--bogus');
      for (const r of [long, short, mixed]) {
        expect(r.code).toBe(0);
        expect(r.stderr).toBe('');
        expect(r.stdout).toBe(long.stdout);
      }
      const text = long.stdout;
      expect(text).toMatch(new RegExp(`^usage: duet-tf ${command} `));
      expect(text).toMatch(new RegExp(`\\nexamples?:\\n  duet-tf ${command} --`));
      expect(text).toContain('-h, --help');
      for (const [name, spec] of Object.entries(options)) {
        const at = text.indexOf(`  --${name}`);
        expect(at, `--${name} is not listed`).toBeGreaterThan(0);
        // The option's entry (up to the next one) states its default or that it is required.
        const entry = text.slice(at, text.indexOf('\n  -', at + 3));
        expect(entry, `--${name}`).toMatch(spec.required ? /\(required\)/ : /\(default [^)]/);
        if (spec.default !== undefined && spec.type !== 'boolean') {
          expect(entry.replace(/\s+/g, ' '), `--${name}`).toContain(`(default ${String(spec.default)})`);
        }
      }
      // Option lines are wrapped, and a name never runs into its help ('cpuTensorFlow.js').
      const optionLines = text.slice(text.indexOf('\noptions:\n'), text.search(/\nexamples?:\n/)).split('\n');
      for (const line of optionLines) {
        expect(line.length, line).toBeLessThanOrEqual(100);
        if (line.startsWith('  -')) expect(line, line).toMatch(/^ {2}(-h, )?--[a-z-]+( \S+)?( {2,}\S|$)/);
      }
      expect(text).not.toMatch(/cpuTensorFlow/);
    });
  }

  it('the top level lists the commands and says how to get a command\'s help', async () => {
    const r = await cli('-h');
    expect(r.code).toBe(0);
    for (const c of Object.keys(TABLES)) expect(r.stdout).toContain(`  ${c}`);
    expect(r.stdout).toContain("'duet-tf <command> --help' (or -h)");
  });

  it('runs through the real entry (bin), as a user types it', () => {
    const out = execFileSync('npx', ['tsx', 'src/cli/bin.ts', 'prepare', '-h'], { encoding: 'utf8' });
    expect(out).toMatch(/^usage: duet-tf prepare \[options\]/);
    expect(out).toContain('--min-rating VALUE');
  });
});

describe('negative numbers', () => {
  it('parse as values, so the range check names the problem', async () => {
    const r = await cli('train', '--model', 'sasrec', '--data', 'synthetic', '--epochs', '-1', '--out', 'x');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('duet-tf: train: --epochs must be at least 1, got -1\n');
    const lr = await cli('train', '--model', 'sasrec', '--data', 'synthetic', '--epochs', '1', '--lr', '-0.5', '--out', 'x');
    expect(lr.stderr).toBe('duet-tf: train: --lr must be a positive number, got -0.5\n');
    const seed = await cli('prepare', '--seq', 'missing.txt', '--seed', '-3', '--out', 'x');
    expect(seed.stderr).not.toMatch(/ambiguous/);
    expect(seed.stderr).toMatch(/cannot read 'missing\.txt'/);
  });
});
