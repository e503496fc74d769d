/**
 * The built-in training objectives, registered by name. Imported by `train` and by every
 * training worker thread, so an objective registered here trains on any number of threads.
 */
import { registerObjective } from '../objective';
import { PointwiseBce } from './pointwise_bce';

registerObjective('pointwiseBce', (options) => new PointwiseBce(options));

export { PointwiseBce } from './pointwise_bce';
