/**
 * `--duet-from scratch|base` and `--static trained|frozen`: how `train` and `compare` make the
 * DUET model. Their defaults differ by protocol: on duet-seq-v1 DUET trains from scratch (the
 * fair comparison of the DUET paper's tables); on seq-loo-v1 it is built from the trained base and
 * only its generator trains (what lifted DUET-SASRec above base on Beauty's validation targets,
 * docs/RESULTS.md).
 */
import { type OptionSpec, type ParsedOptions, UsageError } from './args';

/** The `--static` option, shared by `train` and `compare`. */
export const STATIC_OPTION: Record<string, OptionSpec> = {
  static: {
    type: 'string', choices: ['trained', 'frozen'], defaultText: 'trained; frozen on a seq-loo-v1 folder',
    help: "DUET from a base: the base's weights train on with the generator, or stay as they are (the generator alone trains)",
  },
};

/** How the DUET model of a run is made. */
export interface DuetFrom {
  /** Built from a trained base (`--duet-from base`, or `train --from-base DIR`). */
  fromBase: boolean;
  /** Only the generator trains (`--static frozen`). */
  freezeStatic: boolean;
}

/**
 * Reads `--duet-from` and `--static` for a run on `protocol`; `loadedBase` says `train
 * --from-base DIR` was given. Refuses `--static` where no DUET model is built from a base.
 */
export function duetFrom(command: string, o: ParsedOptions, protocol: 'duet-seq-v1' | 'seq-loo-v1',
    loadedBase = false): DuetFrom {
  const loo = protocol === 'seq-loo-v1';
  const fromBase = loadedBase || (o['duet-from'] ?? (loo ? 'base' : 'scratch')) === 'base';
  if (o.static !== undefined && !fromBase) {
    throw new UsageError(`${command}: --static applies to a DUET model built from a base (--duet-from base` +
      `${command === 'train' ? ' or --from-base DIR' : ''})`);
  }
  return { fromBase, freezeStatic: (o.static ?? (loo ? 'frozen' : 'trained')) === 'frozen' };
}
