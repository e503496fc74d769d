/**
 * Command-line parsing for `duet-tf`: node's `util.parseArgs` with typed numeric options and
 * errors that fit on one line. The option tables and the `--help` text built from them live in
 * `options/option_table.ts` (the service's command shares them).
 */
import { parseArgs } from 'node:util';

import type { OptionSpec } from '../options/option_table';

export { type CommandHelp, helpText, type OptionSpec } from '../options/option_table';

/** A usage problem: printed as one line, exit code 2. */
export class UsageError extends Error {}

export type ParsedOptions = Record<string, string | number | boolean | undefined>;

/** `-h` and `--help`: every command takes them, whatever else is given or missing. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}

const NEGATIVE_NUMBER = /^-(\d|\.\d|Infinity$)/;

/**
 * `--name -1` → `--name=-1` for options that take a value, so a negative number is read as the
 * value (parseArgs would take it for an option and call it ambiguous).
 */
function joinNegativeValues(argv: readonly string[], specs: Record<string, OptionSpec>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const spec = arg.startsWith('--') && !arg.includes('=') ? specs[arg.slice(2)] : undefined;
    if (spec !== undefined && spec.type !== 'boolean' && i + 1 < argv.length &&
        NEGATIVE_NUMBER.test(argv[i + 1])) {
      out.push(`${arg}=${argv[++i]}`);
    } else {
      out.push(arg);
    }
  }
  return out;
}

/**
 * Parses `argv` against `specs`, converting and checking every value. With `--help` or `-h`
 * anywhere it checks nothing and returns `{ help: true }`.
 */
export function parseOptions(command: string, argv: string[], specs: Record<string, OptionSpec>):
    ParsedOptions {
  if (wantsHelp(argv)) return { help: true };
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = { type: spec.type === 'boolean' ? 'boolean' : 'string' };
    if (spec.repeatable) options[name].multiple = true;
  }
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(argv, specs), options, strict: true, allowPositionals: false,
    }) as { values: Record<string, string | boolean | string[] | undefined> });
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message.split('\n')[0]}`);
  }
  const out: ParsedOptions = {};
  for (const [name, spec] of Object.entries(specs)) {
    const given = values[name];
    const raw = Array.isArray(given) ? given[given.length - 1] : given;
    if (raw === undefined) {
      if (spec.required) throw new UsageError(`${command}: --${name} is required (${spec.help})`);
      out[name] = spec.default;
      continue;
    }
    if (spec.type === 'boolean') {
      out[name] = raw;
    } else if (spec.type === 'string') {
      const text = String(raw);
      if (spec.choices && !spec.choices.includes(text)) {
        throw new UsageError(`${command}: --${name} must be one of ${spec.choices.join(', ')}, ` +
          `got '${text}'`);
      }
      out[name] = text;
    } else {
      const n = Number(raw);
      if (String(raw).trim() === '' || !Number.isFinite(n) ||
          (spec.type === 'integer' && !Number.isInteger(n))) {
        throw new UsageError(`${command}: --${name} must be ${spec.type === 'integer' ? 'an ' +
          'integer' : 'a number'}, got '${String(raw)}'`);
      }
      if (spec.min !== undefined && n < spec.min) {
        throw new UsageError(`${command}: --${name} must be at least ${spec.min}, got ${n}`);
      }
      if (spec.max !== undefined && n > spec.max) {
        throw new UsageError(`${command}: --${name} must be at most ${spec.max}, got ${n}`);
      }
      out[name] = n;
    }
  }
  return out;
}
