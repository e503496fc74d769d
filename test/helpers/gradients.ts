import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/**
 * Compares the analytic gradient of `loss` with respect to each variable against central finite
 * differences on a few coordinates per variable.
 */
export function expectGradientsMatch(loss: () => tf.Scalar, variables: tf.Variable[],
    { eps = 1e-2, atol = 2e-3, rtol = 3e-2, probes = 4, seed = 1 } = {}): void {
  const { grads } = tf.variableGrads(loss, variables);
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  for (const v of variables) {
    const g = grads[v.name].dataSync();
    const values = v.dataSync().slice();
    // Always probe the largest-gradient coordinate plus a few random ones.
    let argmax = 0;
    for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[argmax])) argmax = i;
    const coords = [argmax, ...Array.from({ length: probes }, () => Math.floor(next() * g.length))];
    for (const i of coords) {
      const at = (delta: number) => {
        const copy = values.slice();
        copy[i] += delta;
        v.assign(tf.tensor(copy, v.shape));
        return tf.tidy(() => loss().dataSync()[0]);
      };
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      v.assign(tf.tensor(values, v.shape));
      const analytic = g[i];
      const ok = Math.abs(analytic - numeric) <= atol + rtol * Math.max(Math.abs(analytic), Math.abs(numeric));
      expect(ok, `${v.name}[${i}]: analytic ${analytic} vs numeric ${numeric}`).toBe(true);
    }
  }
  tf.dispose(Object.values(grads));
}
