import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { describe, expect, it } from 'vitest';

import { SIMD_KERNELS_WASM } from '../../../src/backend/kernels/simd/kernels_wasm';

const hasClang = spawnSync('clang', ['--version']).status === 0 && spawnSync('wasm-ld', ['--version']).status === 0;

describe('the embedded SIMD kernel module', () => {
  it('imports only the backend memory and exports the kernels the fast paths call', () => {
    const module = new WebAssembly.Module(Buffer.from(SIMD_KERNELS_WASM, 'base64'));
    expect(WebAssembly.Module.imports(module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    expect(WebAssembly.Module.exports(module).map((e) => e.name).sort()).toEqual(
      ['adam_update', 'attention_backward', 'attention_forward', 'bcast_binary', 'bmm', 'compare', 'gather_rows', 'gemm_tn', 'gru_encode', 'gru_sequence', 'layer_norm', 'layer_norm_grad', 'sum_middle', 'tanh_f32']);
  });

  it.skipIf(!hasClang)('is what scripts/build-simd-kernels.sh builds from kernels.c (needs clang)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'duet-simd-'));
    try {
      const out = path.join(dir, 'kernels_wasm.ts');
      execFileSync('bash', ['scripts/build-simd-kernels.sh', out], { stdio: 'pipe' });
      expect(fs.readFileSync(out, 'utf8')).toBe(fs.readFileSync('src/backend/kernels/simd/kernels_wasm.ts', 'utf8'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
