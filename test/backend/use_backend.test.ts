import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

import { requireTfjsNode } from '../../src/backend/loaders/tensorflow';
import { installedWasmDir } from '../../src/backend/loaders/wasm';
import { BACKEND_PRIORITY, currentBackend, useBackend } from '../../src/backend/use_backend';
import type { BackendLoader } from '../../src/backend/types';

const fail = (message: string): BackendLoader => async () => {
  throw new Error(message);
};

/** A stand-in for tfjs-node: registers a 'tensorflow' backend (a cpu backend under that name). */
const fakeTfjsNode: BackendLoader = async () => {
  if (tf.findBackendFactory('tensorflow') == null) {
    tf.registerBackend('tensorflow', () => new MathBackendCPU());
  }
};

afterEach(async () => {
  if (tf.findBackendFactory('tensorflow') != null) tf.removeBackend('tensorflow');
  await tf.setBackend('cpu');
});

afterAll(async () => {
  await tf.setBackend('cpu');
});

// Runs first in this file (its own process): the wasm backend must not be initialised yet.
describe('wasm binaries (real loader, before wasm initialises)', () => {
  it('reports a folder without the binary, and leaves the previous backend current', async () => {
    expect(tf.engine().registry['wasm']).toBeUndefined();
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-wasm-'));
    const err = await useBackend('wasm', { wasmPaths: empty }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(
      `useBackend('wasm'): no backend could be initialised: wasm: tfjs-backend-wasm-simd.wasm ` +
        `not found at ${empty}/tfjs-backend-wasm-simd.wasm`,
    );
    expect(tf.getBackend()).toBe('cpu');
    fs.rmSync(empty, { recursive: true });
  });

  it('initialises wasm under Node from the installed package, without wasmPaths', async () => {
    expect(await useBackend('wasm')).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(currentBackend()).toBe('wasm');
    const sum = tf.add(tf.tensor1d([1, 2, 3]), tf.tensor1d([10, 20, 30]));
    expect(Array.from(await sum.data())).toEqual([11, 22, 33]);
    tf.dispose(sum);
    expect(tf.getKernel('UnsortedSegmentSum', 'wasm')).toBeDefined();
  });

  it('finds the binaries in the installed package dist folder', async () => {
    const dir = await installedWasmDir();
    expect(dir.endsWith(`dist${path.sep}`)).toBe(true);
    expect(fs.existsSync(path.join(dir, 'tfjs-backend-wasm-simd.wasm'))).toBe(true);
  });
});

describe('useBackend resolution', () => {
  it("tries tensorflow → wasm → cpu for 'auto'", () => {
    expect(BACKEND_PRIORITY).toEqual(['tensorflow', 'wasm', 'cpu']);
  });

  it("picks wasm for 'auto' when tfjs-node is absent (real loaders)", async () => {
    expect(await useBackend('auto')).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('defaults to auto', async () => {
    expect(await useBackend()).toBe('wasm');
  });

  it('falls through to cpu when wasm fails, in order', async () => {
    const calls: string[] = [];
    const spy = (name: string, inner?: BackendLoader): BackendLoader => async (o) => {
      calls.push(name);
      if (inner) await inner(o);
    };
    const picked = await useBackend('auto', {
      loaders: { wasm: spy('wasm', fail('simulated wasm failure')), cpu: spy('cpu') },
    });
    expect(picked).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(calls).toEqual(['wasm', 'cpu']);
  });

  it('prefers tensorflow when it loads, trying nothing after it', async () => {
    const wasm = vi.fn(async () => {});
    expect(await useBackend('auto', { loaders: { tensorflow: fakeTfjsNode, wasm } })).toBe('tensorflow');
    expect(tf.getBackend()).toBe('tensorflow');
    expect(wasm).not.toHaveBeenCalled();
  });

  it('tries only the named backend', async () => {
    const tensorflow = vi.fn(async () => {});
    const wasm = vi.fn(async () => {});
    expect(await useBackend('cpu', { loaders: { tensorflow, wasm } })).toBe('cpu');
    expect(tensorflow).not.toHaveBeenCalled();
    expect(wasm).not.toHaveBeenCalled();
  });

  it('lists every backend tried and why in one error', async () => {
    const err = await useBackend('auto', {
      loaders: { wasm: fail('simulated wasm failure'), cpu: fail('simulated cpu failure') },
    }).catch((e: Error) => e);
    expect((err as Error).message).toBe(
      "useBackend('auto'): no backend could be initialised: " +
        'tensorflow: @tensorflow/tfjs-node is not installed; ' +
        'wasm: simulated wasm failure; cpu: simulated cpu failure',
    );
    expect(tf.getBackend()).toBe('cpu');
  });

  it('reports the real tfjs-node absence for an explicit tensorflow', async () => {
    await expect(useBackend('tensorflow')).rejects.toThrow(
      "useBackend('tensorflow'): no backend could be initialised: " +
        'tensorflow: @tensorflow/tfjs-node is not installed',
    );
    expect(tf.getBackend()).toBe('cpu');
  });

  it("reports a backend factory's own initialisation error, and restores the previous backend", async () => {
    await useBackend('wasm');
    const brokenTfjsNode: BackendLoader = async () => {
      tf.registerBackend('tensorflow', async () => {
        throw new Error('libtensorflow.so: cannot open shared object file');
      });
    };
    await expect(useBackend('tensorflow', { loaders: { tensorflow: brokenTfjsNode } })).rejects.toThrow(
      "useBackend('tensorflow'): no backend could be initialised: tensorflow: initialisation " +
        'failed: libtensorflow.so: cannot open shared object file',
    );
    expect(tf.getBackend()).toBe('wasm');
  });

  it('silences the cpu banner only when cpu is asked for by name', async () => {
    tf.registerBackend('cpu-probe', () => new MathBackendCPU());
    try {
      // The banner flag of a fresh cpu backend is set; useBackend('cpu') clears it on the real one.
      await tf.setBackend('cpu-probe');
      expect((tf.backend() as unknown as { firstUse: boolean }).firstUse).toBe(true);
    } finally {
      tf.removeBackend('cpu-probe');
    }
    await useBackend('cpu');
    expect((tf.backend() as unknown as { firstUse: boolean }).firstUse).toBe(false);
  });

  it('rejects bad arguments up front, naming them', async () => {
    await expect(useBackend('webgl' as never)).rejects.toThrow(
      "'name' passed to 'useBackend' must be 'auto', 'tensorflow', 'wasm' or 'cpu', got \"webgl\"",
    );
    await expect(useBackend('wasm', { numThreads: 0 })).rejects.toThrow(
      "'options.numThreads' passed to 'useBackend' must be a positive integer, got 0",
    );
    await expect(useBackend('wasm', { wasmPaths: 3 as never })).rejects.toThrow(
      "'options.wasmPaths' passed to 'useBackend' must be a string or an object, got 3",
    );
    await expect(useBackend('auto', { loaders: { webgl: fail('x') } as never })).rejects.toThrow(
      "'options.loaders' passed to 'useBackend' must map",
    );
  });

  it('runs concurrent calls one after another', async () => {
    const [a, b] = await Promise.all([useBackend('wasm'), useBackend('cpu')]);
    expect([a, b]).toEqual(['wasm', 'cpu']);
    expect(tf.getBackend()).toBe('cpu');
  });
});

describe('requireTfjsNode', () => {
  const notFound = (name: string) =>
    Object.assign(new Error(`Cannot find module '${name}'\nRequire stack:\n- /app/x.js`), {
      code: 'MODULE_NOT_FOUND',
    });

  it('says tfjs-node is not installed when it itself is missing', () => {
    expect(() =>
      requireTfjsNode(() => {
        throw notFound('@tensorflow/tfjs-node');
      }),
    ).toThrow(/^@tensorflow\/tfjs-node is not installed$/);
  });

  it('says it failed to load when a dependency or the native binding is missing', () => {
    expect(() =>
      requireTfjsNode(() => {
        throw notFound('/app/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node');
      }),
    ).toThrow(
      "@tensorflow/tfjs-node is installed but failed to load: Cannot find module " +
        "'/app/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node'",
    );
  });

  it('says so when it loads but registers no backend with this tfjs-core', () => {
    expect(() => requireTfjsNode(() => ({}))).toThrow(
      `@tensorflow/tfjs-node loaded but registered no 'tensorflow' backend with this ` +
        `@tensorflow/tfjs-core ${tf.version_core}`,
    );
  });

  it('accepts a tfjs-node that registered its backend', () => {
    expect(() => requireTfjsNode(() => fakeTfjsNode({}))).not.toThrow();
    expect(tf.findBackendFactory('tensorflow')).not.toBeNull();
  });
});
