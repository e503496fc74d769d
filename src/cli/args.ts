/**
 * Command-line parsing for `duet-tf`: node's `util.parseArgs` with typed numeric options and
 * errors that fit on one line.
 */
import { parseArgs } from 'node:util';

/** A usage problem: printed as one line, exit code 2. */
export class UsageError extends Error {}

/** One option of a command. */
export interface OptionSpec {
  type: 'string' | 'boolean' | 'number' | 'integer';
  /** Default value (as the parsed type). */
  default?: string | number | boolean;
  /** Allowed values for a string option. */
  choices?: readonly string[];
  /** The option must be given. */
  required?: boolean;
  /** Smallest allowed number. */
  min?: number;
  /** One line for `--help`. */
  help: string;
}

export type ParsedOptions = Record<string, string | number | boolean | undefined>;

/** Parses `argv` against `specs`, converting and checking every value. */
export function parseOptions(command: string, argv: string[], specs: Record<string, OptionSpec>):
    ParsedOptions {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = { type: spec.type === 'boolean' ? 'boolean' : 'string' };
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }) as
      { values: Record<string, string | boolean | undefined> });
  } catch (e) {
    throw new UsageError(`${command}: ${(e as Error).message.split('\n')[0]}`);
  }
  const out: ParsedOptions = {};
  for (const [name, spec] of Object.entries(specs)) {
    const raw = values[name];
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
      out[name] = n;
    }
  }
  return out;
}

/** `--help` text for one command. */
export function helpText(command: string, summary: string, specs: Record<string, OptionSpec>):
    string {
  const lines = [`usage: duet-tf ${command} [options]`, '', summary, '', 'options:'];
  for (const [name, spec] of Object.entries(specs)) {
    const value = spec.type === 'boolean' ? '' : spec.choices ? ` ${spec.choices.join('|')}` :
      ` ${spec.type === 'string' ? 'VALUE' : 'N'}`;
    const dflt = spec.default === undefined || spec.type === 'boolean' ? '' :
      ` (default ${String(spec.default)})`;
    lines.push(`  --${name}${value}`.padEnd(34) + `${spec.help}${spec.required ? ' (required)' : ''}${dflt}`);
  }
  return lines.join('\n');
}
