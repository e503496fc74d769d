/**
 * The `duet-tf` command line: `duet-tf <command> [options]`. Every command prints its final
 * result on stdout (one JSON object on the last line with `--json`); problems are one line on
 * stderr and a non-zero exit, never a stack trace.
 */
import { type CommandHelp, helpText, type OptionSpec, UsageError, wantsHelp } from './args';
import { COMPARE_HELP, COMPARE_OPTIONS, compareCommand } from './commands/compare';
import { EVAL_HELP, EVAL_OPTIONS, evalCommand } from './commands/eval';
import { PREPARE_HELP, PREPARE_OPTIONS, prepareCommand } from './commands/prepare';
import { SERVE_CLI_OPTIONS, SERVE_HELP, serveCliCommand } from './commands/serve';
import { TRAIN_HELP, TRAIN_OPTIONS, trainCommand } from './commands/train';
import { CliIO, processIO } from './output';

type Command = (argv: string[], io: CliIO) => Promise<number>;

/** Every command: what runs, one line for the command list, and its `--help` (from its option table). */
const COMMANDS: Record<string, {
  run: Command; summary: string; help: CommandHelp; options: Record<string, OptionSpec>;
}> = {
  prepare: { run: prepareCommand, summary: 'build a duet-seq-v1 split from interaction data',
    help: PREPARE_HELP, options: PREPARE_OPTIONS },
  train: { run: trainCommand, summary: 'train a reference model (base or DUET) and save it',
    help: TRAIN_HELP, options: TRAIN_OPTIONS },
  eval: { run: evalCommand, summary: 'evaluate a saved model on a split\'s test rows',
    help: EVAL_HELP, options: EVAL_OPTIONS },
  compare: { run: compareCommand, summary: 'base vs per-user fine-tune vs DUET on one split',
    help: COMPARE_HELP, options: COMPARE_OPTIONS },
  serve: { run: serveCliCommand, summary: 'serve a DUET model\'s generator over HTTP',
    help: SERVE_HELP, options: SERVE_CLI_OPTIONS },
};

/**
 * `duet-tf <command> --help` (or `-h`): usage, every option with its default, examples. Built
 * from the command's option table, whatever else the command line holds or lacks.
 */
export function commandHelp(name: string): string {
  const command = COMMANDS[name];
  if (command === undefined) throw new Error(`no command '${name}'`);
  return helpText(name, command.help, command.options);
}

function usage(): string {
  const lines = ['usage: duet-tf <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)}${c.summary}`);
  lines.push('', "run 'duet-tf <command> --help' (or -h) for a command's options and examples");
  return lines.join('\n');
}

/** Runs the CLI on `argv` (without the node and script paths); resolves to the exit code. */
export async function runCli(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr(`duet-tf: unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')})\n`);
    return 2;
  }
  if (wantsHelp(rest)) {
    io.stdout(`${commandHelp(name)}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    io.stderr(`duet-tf: ${message.split('\n')[0]}\n`);
    if (process.env.DUET_DEBUG && e instanceof Error) io.stderr(`${e.stack}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
