/**
 * The checkpoint folder of a `duet-tf train` run: `--checkpoint-dir` (default `.NAME.checkpoint`
 * beside `--out NAME`), one subfolder per training phase (`base`, `duet`) holding that phase's
 * `train` checkpoint, and `cli.json`, the command line's own settings (model, data, variant), so
 * `--resume` refuses a checkpoint of another run, naming what differs. Removed once the model is
 * saved.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { optionDifferences } from '../train/checkpoint/run_checkpoint';
import { resolveModelFolderSync } from '../wrap/model_folder';
import { UsageError } from './args';

const CLI_FILE = 'cli.json';

/** The default checkpoint folder of `--out`: `.NAME.checkpoint` in the same parent folder. */
export function defaultCheckpointDir(out: string): string {
  const full = path.resolve(out);
  return path.join(path.dirname(full), `.${path.basename(full)}.checkpoint`);
}

/** A phase's checkpoint folder and whether to resume it. */
export interface PhaseCheckpoint {
  dir: string;
  resume: boolean;
}

/** The checkpoint options of `train` and `compare` (compare's folder has no default). */
export const CHECKPOINT_OPTIONS = {
  'checkpoint-dir': { type: 'string', help: 'folder of the per-epoch checkpoints (written crash-safe after each epoch, removed once the run has finished)' },
  resume: { type: 'boolean', help: 'continue the interrupted run whose checkpoint is in --checkpoint-dir, exactly as if never stopped (same options required; --epochs may grow)' },
} as const;

/**
 * `compare`'s checkpoints: none without `--checkpoint-dir` (then `--resume` is refused), else
 * as {@link openCliCheckpoints}.
 */
export function optionalCliCheckpoints(command: string, o: Record<string, unknown>,
    record: Record<string, unknown>): CliCheckpoints | null {
  if (o['checkpoint-dir'] === undefined) {
    if (o.resume) throw new UsageError(`${command}: --resume needs --checkpoint-dir, the folder to resume from`);
    return null;
  }
  return openCliCheckpoints(command, o, record);
}

/** The checkpoints of one command run. */
export interface CliCheckpoints {
  /** The folder. */
  root: string;
  /** Phase `name`'s checkpoint: resumed when `--resume` and the phase has one, started fresh otherwise. */
  phase(name: string): PhaseCheckpoint;
  /** Removes the folder (the model is saved). */
  finish(): void;
}

function holdsCheckpoint(dir: string): boolean {
  return fs.existsSync(path.join(resolveModelFolderSync(dir, fs, path), 'checkpoint.json'));
}

/**
 * Opens the checkpoint folder of a run whose settings are `record`: with `--resume` the folder
 * must hold a checkpoint of a run with the same settings; without, a folder holding one is
 * refused (an interrupted run to resume) unless `--force`, which starts over.
 */
export function openCliCheckpoints(command: string, o: Record<string, unknown>,
    record: Record<string, unknown>): CliCheckpoints {
  const root = path.resolve(o['checkpoint-dir'] === undefined ? defaultCheckpointDir(String(o.out)) : String(o['checkpoint-dir']));
  const resume = Boolean(o.resume);
  const cliFile = path.join(root, CLI_FILE);
  const present = fs.existsSync(root);
  if (present && !fs.statSync(root).isDirectory()) throw new UsageError(`${command}: --checkpoint-dir '${root}' is not a folder`);
  const entries = present ? fs.readdirSync(root) : [];
  const ours = entries.length === 0 || fs.existsSync(cliFile);
  if (!ours) {
    throw new UsageError(`${command}: --checkpoint-dir '${root}' holds other files (${entries.slice(0, 5).join(', ')}); ` +
      'choose an empty or new folder');
  }
  if (resume) {
    if (!fs.existsSync(cliFile)) {
      throw new UsageError(`${command}: --resume: no checkpoint in '${root}' (one is written after each completed epoch)`);
    }
    const saved = JSON.parse(fs.readFileSync(cliFile, 'utf8')) as Record<string, unknown>;
    const differences = optionDifferences(saved, record);
    if (differences.length > 0) {
      throw new UsageError(`${command}: --resume: the checkpoint in '${root}' is of a run with other settings: ` +
        differences.join('; '));
    }
  } else if (entries.length > 0) {
    if (!o.force) {
      throw new UsageError(`${command}: '${root}' holds the checkpoint of an interrupted run; pass --resume to ` +
        `continue it, or ${'force' in o ? '--force to start over' : 'remove the folder to start over'}`);
    }
    fs.rmSync(root, { recursive: true, force: true });
  }
  if (!fs.existsSync(cliFile)) {
    fs.mkdirSync(root, { recursive: true });
    const temp = `${cliFile}.${process.pid}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify(record, null, 1)}\n`);
    fs.renameSync(temp, cliFile);
  }
  return {
    root,
    phase: (name) => {
      const dir = path.join(root, name);
      return { dir, resume: resume && holdsCheckpoint(dir) };
    },
    finish: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}
