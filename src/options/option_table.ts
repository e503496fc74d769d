/**
 * Option tables of the `duet-tf` commands and the `--help` text built from them: a command
 * declares its options once (type, default, one line of help) and its `--help` lists every one
 * with its default, so a new option is documented by being declared. Shared by the CLI's parser
 * and the service's (`duet-tf serve`); no imports.
 */

/** One option of a command. */
export interface OptionSpec {
  type: 'string' | 'boolean' | 'number' | 'integer';
  /** Default value (as the parsed type). */
  default?: string | number | boolean;
  /** How `--help` states a default that is not a plain value ("every core", "--lr"). */
  defaultText?: string;
  /** Allowed values for a string option. */
  choices?: readonly string[];
  /** The option must be given. */
  required?: boolean;
  /** Smallest allowed number. */
  min?: number;
  /** Largest allowed number. */
  max?: number;
  /** The option may be given several times (string options; parsed as their last value). */
  repeatable?: boolean;
  /** One line for `--help`. */
  help: string;
}

/** What `--help` prints for one command beside its options. */
export interface CommandHelp {
  /** What the command does, a sentence or two. */
  summary: string;
  /** Example command lines (without the leading `duet-tf`). At least one. */
  examples: readonly string[];
  /** Extra sections, printed after the options (e.g. the service's request format). */
  more?: string;
  /** The usage line's arguments. Default `[options]`. */
  usage?: string;
}

/** How an option's value is shown: `--epochs N`, `--model sasrec|gru4rec|din`. */
function optionName(name: string, spec: OptionSpec): string {
  if (spec.type === 'boolean') return `--${name}`;
  const value = spec.choices ? spec.choices.join('|') :
    spec.type === 'string' ? 'VALUE' : spec.type === 'integer' ? 'N' : 'X';
  return `--${name} ${value}`;
}

/** `(required)`, `(default 30)`, `(default off)`, or nothing when there is no default. */
function defaultOf(spec: OptionSpec): string {
  if (spec.required) return ' (required)';
  if (spec.defaultText !== undefined) return ` (default ${spec.defaultText})`;
  if (spec.type === 'boolean') return ` (default ${spec.default === true ? 'on' : 'off'})`;
  if (spec.default === undefined) return ' (default none)';
  return ` (default ${String(spec.default)})`;
}

/** `text` broken into lines of at most `width` characters (a longer word gets its own line). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  const words = text.split(/\s+/).filter((w) => w !== '');
  // "(default X" stays on one line, so a default is never cut from its value.
  for (let i = words.length - 2; i >= 0; i--) {
    if (words[i] === '(default') words.splice(i, 2, `${words[i]} ${words[i + 1]}`);
  }
  for (const word of words) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

const LINE_WIDTH = 100;

/**
 * `--help` text for one command: usage, summary, every option with its default, examples.
 * Help is wrapped to 100 columns beside the option names; a long name gets its help on the
 * next line, so words never run together.
 *
 * @example
 * ```ts
 * console.log(helpText('fly', { summary: 'Flies.', examples: ['fly --speed 3'] },
 *   { speed: { type: 'integer', default: 1, help: 'how fast' } }));
 * ```
 */
export function helpText(command: string, help: CommandHelp, specs: Record<string, OptionSpec>):
    string {
  const rows: Array<[string, string]> = Object.entries(specs).map(([name, spec]) =>
    [optionName(name, spec), `${spec.help}${spec.repeatable ? ' (repeatable)' : ''}${defaultOf(spec)}`]);
  rows.push(['-h, --help', 'show this help and exit']);
  const width = Math.min(24, Math.max(...rows.map(([n]) => n.length)));
  const indent = ' '.repeat(width + 4);
  const lines = [`usage: duet-tf ${command} ${help.usage ?? '[options]'}`, '',
    ...wrap(help.summary, LINE_WIDTH), '', 'options:'];
  for (const [name, text] of rows) {
    const body = wrap(text, LINE_WIDTH - indent.length);
    if (name.length > width) lines.push(`  ${name}`, `${indent}${body[0]}`);
    else lines.push(`  ${name.padEnd(width)}  ${body[0]}`);
    for (const more of body.slice(1)) lines.push(`${indent}${more}`);
  }
  lines.push('', help.examples.length === 1 ? 'example:' : 'examples:');
  for (const example of help.examples) lines.push(`  duet-tf ${example}`);
  if (help.more !== undefined) lines.push('', help.more.trimEnd());
  return lines.join('\n');
}
