/*
 * duet-tf's SIMD kernels for tfjs-backend-wasm, compiled to a small WebAssembly module that
 * imports the backend's own memory, so they read and write tensors where they live on its heap.
 * Build: scripts/build-simd-kernels.sh (clang --target=wasm32 -msimd128); the module is embedded
 * in kernels_wasm.ts. Rules for this file: no libc, no globals, no arrays or address-taken locals
 * (the module has no stack of its own: it shares a memory it does not manage), so every value
 * lives in wasm locals.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

/* o[0..n) += s * b[0..n) */
static inline void axpy(float *o, float s, const float *b, int n) {
  v128_t sv = wasm_f32x4_splat(s);
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    wasm_v128_store(o + j, wasm_f32x4_add(wasm_v128_load(o + j), wasm_f32x4_mul(sv, wasm_v128_load(b + j))));
  }
  for (; j < n; j++) o[j] += s * b[j];
}

/* o[0..n) += s0*b0 + s1*b1 + s2*b2 + s3*b3 (four rows of B at once: one load/store of o per four). */
static inline void axpy4(float *o, float s0, const float *b0, float s1, const float *b1,
                         float s2, const float *b2, float s3, const float *b3, int n) {
  v128_t v0 = wasm_f32x4_splat(s0), v1 = wasm_f32x4_splat(s1);
  v128_t v2 = wasm_f32x4_splat(s2), v3 = wasm_f32x4_splat(s3);
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    v128_t acc = wasm_v128_load(o + j);
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(v0, wasm_v128_load(b0 + j)));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(v1, wasm_v128_load(b1 + j)));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(v2, wasm_v128_load(b2 + j)));
    acc = wasm_f32x4_add(acc, wasm_f32x4_mul(v3, wasm_v128_load(b3 + j)));
    wasm_v128_store(o + j, acc);
  }
  for (; j < n; j++) o[j] += s0 * b0[j] + s1 * b1[j] + s2 * b2[j] + s3 * b3[j];
}

/*
 * Batched matrix product with strides: for p < batch, out[p] (M×N, dense) = A_p · B_p with
 * A_p(i, k) = a[p*sab + i*sai + k*sak] and B_p(k, j) = b[p*sbb + k*sbk + j*sbn]. When B_p's rows
 * are not dense (sbn != 1 or sbk != n, e.g. a transposed operand) they are first gathered into
 * `scratch` (K×N floats). Sums run over k in order.
 */
EXPORT(bmm)
void bmm(const float *a, const float *b, float *out, float *scratch, int batch, int m, int k, int n,
         int sab, int sai, int sak, int sbb, int sbk, int sbn) {
  for (int p = 0; p < batch; p++) {
    const float *ap = a + (long)p * sab;
    const float *bp = b + (long)p * sbb;
    const float *bd = bp;
    if (sbn != 1 || sbk != n) {
      for (int kk = 0; kk < k; kk++) {
        for (int j = 0; j < n; j++) scratch[kk * n + j] = bp[kk * sbk + j * sbn];
      }
      bd = scratch;
    }
    float *op = out + (long)p * m * n;
    for (int i = 0; i < m; i++) {
      float *o = op + i * n;
      for (int j = 0; j < n; j++) o[j] = 0.0f;
      const float *ai = ap + i * sai;
      int kk = 0;
      for (; kk + 4 <= k; kk += 4) {
        axpy4(o, ai[kk * sak], bd + kk * n, ai[(kk + 1) * sak], bd + (kk + 1) * n,
              ai[(kk + 2) * sak], bd + (kk + 2) * n, ai[(kk + 3) * sak], bd + (kk + 3) * n, n);
      }
      for (; kk < k; kk++) axpy(o, ai[kk * sak], bd + kk * n, n);
    }
  }
}

/* Rows of X and Y per block of gemm_tn: a block of both (≤ 256 · (m + n) floats) stays in cache. */
#define TN_ROWS 256

/*
 * out (M×N) = Xᵀ · Y for X (R×M) and Y (R×N), both dense row-major: the weight gradient of a
 * dense layer over R rows (R large, M and N small). Register tiles of 4 columns of X by 8 of Y
 * (eight vector accumulators) run over blocks of TN_ROWS rows; the edges that do not fill a tile
 * go one element at a time. Each output element sums its rows in order.
 */
EXPORT(gemm_tn)
void gemm_tn(const float *x, const float *y, float *out, int r, int m, int n) {
  for (int q = 0; q < m * n; q++) out[q] = 0.0f;
  int m4 = m - m % 4, n8 = n - n % 8;
  for (int r0 = 0; r0 < r; r0 += TN_ROWS) {
    int r1 = r0 + TN_ROWS < r ? r0 + TN_ROWS : r;
    for (int i = 0; i < m4; i += 4) {
      for (int j = 0; j < n8; j += 8) {
        float *o0 = out + i * n + j, *o1 = o0 + n, *o2 = o1 + n, *o3 = o2 + n;
        v128_t a00 = wasm_v128_load(o0), a01 = wasm_v128_load(o0 + 4);
        v128_t a10 = wasm_v128_load(o1), a11 = wasm_v128_load(o1 + 4);
        v128_t a20 = wasm_v128_load(o2), a21 = wasm_v128_load(o2 + 4);
        v128_t a30 = wasm_v128_load(o3), a31 = wasm_v128_load(o3 + 4);
        const float *xr = x + (long)r0 * m + i;
        const float *yr = y + (long)r0 * n + j;
        for (int row = r0; row < r1; row++, xr += m, yr += n) {
          v128_t xv = wasm_v128_load(xr);
          v128_t y0 = wasm_v128_load(yr), y1 = wasm_v128_load(yr + 4);
          v128_t s0 = wasm_i32x4_shuffle(xv, xv, 0, 0, 0, 0);
          v128_t s1 = wasm_i32x4_shuffle(xv, xv, 1, 1, 1, 1);
          v128_t s2 = wasm_i32x4_shuffle(xv, xv, 2, 2, 2, 2);
          v128_t s3 = wasm_i32x4_shuffle(xv, xv, 3, 3, 3, 3);
          a00 = wasm_f32x4_add(a00, wasm_f32x4_mul(s0, y0)); a01 = wasm_f32x4_add(a01, wasm_f32x4_mul(s0, y1));
          a10 = wasm_f32x4_add(a10, wasm_f32x4_mul(s1, y0)); a11 = wasm_f32x4_add(a11, wasm_f32x4_mul(s1, y1));
          a20 = wasm_f32x4_add(a20, wasm_f32x4_mul(s2, y0)); a21 = wasm_f32x4_add(a21, wasm_f32x4_mul(s2, y1));
          a30 = wasm_f32x4_add(a30, wasm_f32x4_mul(s3, y0)); a31 = wasm_f32x4_add(a31, wasm_f32x4_mul(s3, y1));
        }
        wasm_v128_store(o0, a00); wasm_v128_store(o0 + 4, a01);
        wasm_v128_store(o1, a10); wasm_v128_store(o1 + 4, a11);
        wasm_v128_store(o2, a20); wasm_v128_store(o2 + 4, a21);
        wasm_v128_store(o3, a30); wasm_v128_store(o3 + 4, a31);
      }
    }
    /* the edges: columns of X beyond m4 (every column of Y), columns of Y beyond n8 (rows < m4) */
    for (int i = 0; i < m; i++) {
      int j0 = i < m4 ? n8 : 0;
      for (int j = j0; j < n; j++) {
        float acc = out[i * n + j];
        for (int row = r0; row < r1; row++) acc += x[(long)row * m + i] * y[(long)row * n + j];
        out[i * n + j] = acc;
      }
    }
  }
}

/* e^x for x in [-87.3, 88.7] (clamped): 2^n · p(r), x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial. */
static inline v128_t exp4(v128_t x) {
  x = wasm_f32x4_min(wasm_f32x4_max(x, wasm_f32x4_splat(-87.3f)), wasm_f32x4_splat(88.7f));
  v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  /* r = x − n·ln2 in two steps (Cody–Waite) */
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_add(r, wasm_f32x4_mul(n, wasm_f32x4_splat(2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.0f / 720.0f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 120.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 24.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 6.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(0.5f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  v128_t scale = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(p, scale);
}

/* tanh over n floats: sign(x) · (1 − 2 / (e^{2|x|} + 1)), |x| clamped at 10 (where it rounds to 1). */
static inline v128_t tanh4(v128_t x) {
  v128_t ax = wasm_f32x4_min(wasm_f32x4_abs(x), wasm_f32x4_splat(10.0f));
  v128_t e = exp4(wasm_f32x4_add(ax, ax));
  v128_t t = wasm_f32x4_sub(wasm_f32x4_splat(1.0f),
                            wasm_f32x4_div(wasm_f32x4_splat(2.0f), wasm_f32x4_add(e, wasm_f32x4_splat(1.0f))));
  /* copy the sign bit of x (tanh(−0) = −0); NaN propagates through the arithmetic */
  v128_t sign = wasm_v128_and(x, wasm_i32x4_splat((int)0x80000000));
  v128_t r = wasm_v128_or(t, sign);
  v128_t nan = wasm_f32x4_ne(x, x);
  return wasm_v128_bitselect(x, r, nan);
}

EXPORT(tanh_f32)
void tanh_f32(const float *x, float *out, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(out + i, tanh4(wasm_v128_load(x + i)));
  for (; i < n; i++) {
    v128_t v = tanh4(wasm_f32x4_splat(x[i]));
    out[i] = wasm_f32x4_extract_lane(v, 0);
  }
}

/* σ(x) = 1 / (1 + e^{−x}) */
static inline v128_t sigmoid4(v128_t x) {
  return wasm_f32x4_div(wasm_f32x4_splat(1.0f), wasm_f32x4_add(wasm_f32x4_splat(1.0f), exp4(wasm_f32x4_neg(x))));
}

/*
 * A masked GRU over a whole sequence, forward only (duet-tf's DuetGruSequence kernel): x is the
 * input projection [batch, time, 3·units] (gates update z, reset r, candidate), recurrent is
 * [units, 3·units], mask [batch, time] (int32, 0 = padding: the step is skipped). Per row, from
 * h = 0: z = σ(x_z + h·U_z), r = σ(x_r + h·U_r), h̃ = tanh(x_h + (r ⊙ h)·U_h),
 * h ← z ⊙ h + (1 − z) ⊙ h̃. out is [batch, units]; scratch holds 5·units floats.
 * units must be a multiple of 4.
 */
EXPORT(gru_sequence)
void gru_sequence(const float *x, const float *recurrent, const int *mask, float *out, float *scratch,
                  int batch, int time, int units) {
  int width = 3 * units, gates = 2 * units;
  float *h = scratch, *rh = scratch + units, *pre = scratch + 2 * units;
  for (int b = 0; b < batch; b++) {
    for (int i = 0; i < units; i++) h[i] = 0.0f;
    for (int t = 0; t < time; t++) {
      if (mask[b * time + t] == 0) continue;
      const float *xt = x + ((long)b * time + t) * width;
      for (int j = 0; j < gates; j++) pre[j] = xt[j];
      int k = 0;
      for (; k + 4 <= units; k += 4) {
        const float *u = recurrent + k * width;
        axpy4(pre, h[k], u, h[k + 1], u + width, h[k + 2], u + 2 * width, h[k + 3], u + 3 * width, gates);
      }
      for (; k < units; k++) axpy(pre, h[k], recurrent + k * width, gates);
      for (int i = 0; i < units; i += 4) {
        v128_t r = sigmoid4(wasm_v128_load(pre + units + i));
        wasm_v128_store(pre + i, sigmoid4(wasm_v128_load(pre + i)));
        wasm_v128_store(rh + i, wasm_f32x4_mul(r, wasm_v128_load(h + i)));
      }
      float *cand = pre + gates;
      for (int j = 0; j < units; j++) cand[j] = xt[gates + j];
      for (k = 0; k + 4 <= units; k += 4) {
        const float *u = recurrent + k * width + gates;
        axpy4(cand, rh[k], u, rh[k + 1], u + width, rh[k + 2], u + 2 * width, rh[k + 3], u + 3 * width, units);
      }
      for (; k < units; k++) axpy(cand, rh[k], recurrent + k * width + gates, units);
      for (int i = 0; i < units; i += 4) {
        v128_t z = wasm_v128_load(pre + i);
        v128_t c = tanh4(wasm_v128_load(cand + i));
        v128_t hv = wasm_v128_load(h + i);
        wasm_v128_store(h + i, wasm_f32x4_add(wasm_f32x4_mul(z, hv),
                                              wasm_f32x4_mul(wasm_f32x4_sub(wasm_f32x4_splat(1.0f), z), c)));
      }
    }
    for (int i = 0; i < units; i++) out[(long)b * units + i] = h[i];
  }
}
