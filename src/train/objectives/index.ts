/**
 * The built-in training objectives, registered by name. Imported by `train` and by every
 * training worker thread, so an objective registered here trains on any number of threads.
 */
import { registerObjective } from '../objective';
import { PointwiseBce } from './pointwise_bce';
import { SequenceObjective } from './sequence';

registerObjective('pointwiseBce', (options) => new PointwiseBce(options));
registerObjective('sequence', (options) => new SequenceObjective(options));

export { PointwiseBce } from './pointwise_bce';
export { SequenceObjective } from './sequence';
