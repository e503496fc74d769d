/**
 * The `duet-tf` command line: `duet-tf <command> [options]`. Every command prints its final
 * result on stdout (one JSON object on the last line with `--json`); problems are one line on
 * stderr and a non-zero exit, never a stack trace.
 */
import { UsageError } from './args';
import { compareCommand } from './commands/compare';
import { evalCommand } from './commands/eval';
import { prepareCommand } from './commands/prepare';
import { serveCliCommand } from './commands/serve';
import { trainCommand } from './commands/train';
import { CliIO, processIO } from './output';

type Command = (argv: string[], io: CliIO) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  prepare: { run: prepareCommand, summary: 'build a duet-seq-v1 split from interaction data' },
  train: { run: trainCommand, summary: 'train a reference model (base or DUET) and save it' },
  eval: { run: evalCommand, summary: 'evaluate a saved model on a split\'s test rows' },
  compare: { run: compareCommand, summary: 'base vs per-user fine-tune vs DUET on one split' },
  serve: { run: serveCliCommand, summary: 'serve a DUET model\'s generator over HTTP' },
};

function usage(): string {
  const lines = ['usage: duet-tf <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)}${c.summary}`);
  lines.push('', "run 'duet-tf <command> --help' for a command's options");
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
  try {
    return await command.run(rest, io);
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    io.stderr(`duet-tf: ${message.split('\n')[0]}\n`);
    if (process.env.DUET_DEBUG && e instanceof Error) io.stderr(`${e.stack}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
