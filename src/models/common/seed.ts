/**
 * Reproducible initial weights. tfjs-layers' own layers take seeded initializer objects; the
 * duet-tf sequence layers take initializer names, so a seeded model rewrites their random
 * (Glorot-uniform, the default) kernels from seeded draws right after building.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

type Initializer = ReturnType<typeof tfl.initializers.zeros>;

/** Hands out a distinct seed per call from one model seed (or `undefined` when unseeded). */
export class SeedSequence {
  private next = 0;

  constructor(private readonly seed: number | null) {}

  /** The next seed, or `undefined` for an unseeded model. */
  take(): number | undefined {
    const index = this.next++;
    return this.seed === null ? undefined : this.seed * 1009 + index;
  }

  /** A Glorot-uniform initializer with the next seed. */
  glorot(): Initializer {
    return tfl.initializers.glorotUniform({ seed: this.take() });
  }

  /** A uniform initializer in [-limit, limit] with the next seed. */
  uniform(limit: number): Initializer {
    return tfl.initializers.randomUniform({ minval: -limit, maxval: limit, seed: this.take() });
  }

  /**
   * Rewrites every kernel-like weight of a built layer (name containing `kernel` or `embeddings`)
   * with a seeded Glorot-uniform draw; biases and LayerNorm weights are deterministic already.
   * Only for layers whose kernel initializer is `'glorotUniform'`; does nothing when unseeded.
   */
  reseed(layer: tfl.layers.Layer): void {
    if (this.seed === null) return;
    for (const weight of layer.weights) {
      const short = weight.originalName.split('/').pop() as string;
      if (!/kernel|embeddings/i.test(short)) continue;
      const value = this.glorot().apply(weight.shape) as tf.Tensor;
      weight.write(value);
      value.dispose();
    }
  }
}
