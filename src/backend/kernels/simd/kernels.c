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

/*
 * tanh as a rational function x·P(x²)/Q(x²) (degree 4 over 4, fitted for this file by weighted
 * least squares on [0, 9]; within 3.5e-7 of tanh there), clamped to [−1, 1], and exactly ±1 beyond
 * |x| = 9, where tanh rounds to ±1 in float32. One division, no exponential. pmin/pmax are single
 * instructions (min/max need a NaN-and-zero dance); NaN passes through, tanh(−0) = −0.
 */
static inline v128_t tanh4(v128_t x) {
  const v128_t one = wasm_f32x4_splat(1.0f), limit = wasm_f32x4_splat(9.0f);
  v128_t xc = wasm_f32x4_pmax(wasm_f32x4_pmin(x, limit), wasm_f32x4_neg(limit));
  v128_t t = wasm_f32x4_mul(xc, xc);
  v128_t p = wasm_f32x4_splat(1.31853595e-08f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(2.04726966e-05f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(0.00348663656f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(0.133732438f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, t), wasm_f32x4_splat(0.999999881f));
  v128_t q = wasm_f32x4_splat(7.70314159e-07f);
  q = wasm_f32x4_add(wasm_f32x4_mul(q, t), wasm_f32x4_splat(0.00032714734f));
  q = wasm_f32x4_add(wasm_f32x4_mul(q, t), wasm_f32x4_splat(0.0258421898f));
  q = wasm_f32x4_add(wasm_f32x4_mul(q, t), wasm_f32x4_splat(0.467065424f));
  q = wasm_f32x4_add(wasm_f32x4_mul(q, t), one);
  v128_t r = wasm_f32x4_div(wasm_f32x4_mul(xc, p), q);
  r = wasm_f32x4_pmax(wasm_f32x4_pmin(r, one), wasm_f32x4_neg(one));
  v128_t saturated = wasm_v128_or(one, wasm_v128_and(x, wasm_i32x4_splat((int)0x80000000)));
  return wasm_v128_bitselect(saturated, r, wasm_f32x4_gt(wasm_f32x4_abs(x), limit));
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

/* σ(x) = (1 + tanh(x/2)) / 2 */
static inline v128_t sigmoid4(v128_t x) {
  const v128_t half = wasm_f32x4_splat(0.5f);
  return wasm_f32x4_add(half, wasm_f32x4_mul(half, tanh4(wasm_f32x4_mul(x, half))));
}

/* One GRU step of one row: h ← GRU(h, xt); scratch holds 4·units floats. */
static void gru_step1(const float *xt, const float *recurrent, float *h, float *scratch, int units) {
  int width = 3 * units, gates = 2 * units;
  float *pre = scratch, *rh = scratch + 3 * units;
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

/*
 * o_i[0..n) = b_i[0..n) + s_i · U for four rows i, U (units × n, row stride `stride`): register
 * tiles of 4 rows × 8 columns (then 4), so each U vector loaded serves four rows.
 */
static inline void rows4_times(float *o0, float *o1, float *o2, float *o3,
                               const float *b0, const float *b1, const float *b2, const float *b3,
                               const float *s0, const float *s1, const float *s2, const float *s3,
                               const float *u, int stride, int units, int n) {
  int j = 0;
  for (; j + 8 <= n; j += 8) {
    v128_t a0 = wasm_v128_load(b0 + j), c0 = wasm_v128_load(b0 + j + 4);
    v128_t a1 = wasm_v128_load(b1 + j), c1 = wasm_v128_load(b1 + j + 4);
    v128_t a2 = wasm_v128_load(b2 + j), c2 = wasm_v128_load(b2 + j + 4);
    v128_t a3 = wasm_v128_load(b3 + j), c3 = wasm_v128_load(b3 + j + 4);
    const float *uk = u + j;
    for (int k = 0; k < units; k++, uk += stride) {
      v128_t v = wasm_v128_load(uk), w = wasm_v128_load(uk + 4);
      v128_t t0 = wasm_v128_load32_splat(s0 + k), t1 = wasm_v128_load32_splat(s1 + k);
      v128_t t2 = wasm_v128_load32_splat(s2 + k), t3 = wasm_v128_load32_splat(s3 + k);
      a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(t0, v)); c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(t0, w));
      a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(t1, v)); c1 = wasm_f32x4_add(c1, wasm_f32x4_mul(t1, w));
      a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(t2, v)); c2 = wasm_f32x4_add(c2, wasm_f32x4_mul(t2, w));
      a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(t3, v)); c3 = wasm_f32x4_add(c3, wasm_f32x4_mul(t3, w));
    }
    wasm_v128_store(o0 + j, a0); wasm_v128_store(o0 + j + 4, c0);
    wasm_v128_store(o1 + j, a1); wasm_v128_store(o1 + j + 4, c1);
    wasm_v128_store(o2 + j, a2); wasm_v128_store(o2 + j + 4, c2);
    wasm_v128_store(o3 + j, a3); wasm_v128_store(o3 + j + 4, c3);
  }
  for (; j + 4 <= n; j += 4) {
    v128_t a0 = wasm_v128_load(b0 + j), a1 = wasm_v128_load(b1 + j);
    v128_t a2 = wasm_v128_load(b2 + j), a3 = wasm_v128_load(b3 + j);
    const float *uk = u + j;
    for (int k = 0; k < units; k++, uk += stride) {
      v128_t v = wasm_v128_load(uk);
      a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(wasm_v128_load32_splat(s0 + k), v));
      a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(wasm_v128_load32_splat(s1 + k), v));
      a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(wasm_v128_load32_splat(s2 + k), v));
      a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(wasm_v128_load32_splat(s3 + k), v));
    }
    wasm_v128_store(o0 + j, a0); wasm_v128_store(o1 + j, a1);
    wasm_v128_store(o2 + j, a2); wasm_v128_store(o3 + j, a3);
  }
}

/*
 * One GRU step of four rows at once, each at its own time step (inputs x0..x3, states h0..h3):
 * the same equations as gru_step1, the recurrent products as 4-row register tiles.
 * scratch holds 16·units floats.
 */
static void gru_step4(const float *x0, const float *x1, const float *x2, const float *x3,
                      const float *recurrent, float *h0, float *h1, float *h2, float *h3,
                      float *scratch, int units) {
  int width = 3 * units, gates = 2 * units;
  float *g0 = scratch, *g1 = g0 + gates, *g2 = g1 + gates, *g3 = g2 + gates;
  float *r0 = g3 + gates, *r1 = r0 + units, *r2 = r1 + units, *r3 = r2 + units;
  float *c0 = r3 + units, *c1 = c0 + units, *c2 = c1 + units, *c3 = c2 + units;
  rows4_times(g0, g1, g2, g3, x0, x1, x2, x3, h0, h1, h2, h3, recurrent, width, units, gates);
  for (int i = 0; i < gates; i += 4) {
    wasm_v128_store(g0 + i, sigmoid4(wasm_v128_load(g0 + i)));
    wasm_v128_store(g1 + i, sigmoid4(wasm_v128_load(g1 + i)));
    wasm_v128_store(g2 + i, sigmoid4(wasm_v128_load(g2 + i)));
    wasm_v128_store(g3 + i, sigmoid4(wasm_v128_load(g3 + i)));
  }
  for (int i = 0; i < units; i += 4) {
    wasm_v128_store(r0 + i, wasm_f32x4_mul(wasm_v128_load(g0 + units + i), wasm_v128_load(h0 + i)));
    wasm_v128_store(r1 + i, wasm_f32x4_mul(wasm_v128_load(g1 + units + i), wasm_v128_load(h1 + i)));
    wasm_v128_store(r2 + i, wasm_f32x4_mul(wasm_v128_load(g2 + units + i), wasm_v128_load(h2 + i)));
    wasm_v128_store(r3 + i, wasm_f32x4_mul(wasm_v128_load(g3 + units + i), wasm_v128_load(h3 + i)));
  }
  rows4_times(c0, c1, c2, c3, x0 + gates, x1 + gates, x2 + gates, x3 + gates, r0, r1, r2, r3,
              recurrent + gates, width, units, units);
  const v128_t one = wasm_f32x4_splat(1.0f);
  for (int i = 0; i < units; i += 4) {
#define GRU_UPDATE(g, c, h) { v128_t z = wasm_v128_load(g + i), hv = wasm_v128_load(h + i); \
      wasm_v128_store(h + i, wasm_f32x4_add(wasm_f32x4_mul(z, hv), \
                             wasm_f32x4_mul(wasm_f32x4_sub(one, z), tanh4(wasm_v128_load(c + i))))); }
    GRU_UPDATE(g0, c0, h0) GRU_UPDATE(g1, c1, h1) GRU_UPDATE(g2, c2, h2) GRU_UPDATE(g3, c3, h3)
#undef GRU_UPDATE
  }
}

/* The next valid step of row b at or after t (time if none). */
static inline int next_valid(const int *mask, int b, int t, int time) {
  while (t < time && mask[b * time + t] == 0) t++;
  return t;
}

/*
 * A masked GRU over a whole sequence, forward only (duet-tf's DuetGruSequence kernel): x is the
 * input projection [batch, time, 3·units] (gates update z, reset r, candidate), recurrent is
 * [units, 3·units], mask [batch, time] (int32, 0 = padding: the step is skipped). Per row, from
 * h = 0: z = σ(x_z + h·U_z), r = σ(x_r + h·U_r), h̃ = tanh(x_h + (r ⊙ h)·U_h),
 * h ← z ⊙ h + (1 − z) ⊙ h̃. out is [batch, units] (the state lives there); scratch holds
 * 16·units floats. units must be a multiple of 4. Rows go four at a time, each walking its own
 * valid steps, as long as all four have one left; the rest row by row.
 */
EXPORT(gru_sequence)
void gru_sequence(const float *x, const float *recurrent, const int *mask, float *out, float *scratch,
                  int batch, int time, int units) {
  int width = 3 * units;
  for (int q = 0; q < batch * units; q++) out[q] = 0.0f;
  int b = 0;
  for (; b + 4 <= batch; b += 4) {
    float *h0 = out + (long)b * units, *h1 = h0 + units, *h2 = h1 + units, *h3 = h2 + units;
    int t0 = next_valid(mask, b, 0, time), t1 = next_valid(mask, b + 1, 0, time);
    int t2 = next_valid(mask, b + 2, 0, time), t3 = next_valid(mask, b + 3, 0, time);
    while (t0 < time && t1 < time && t2 < time && t3 < time) {
      gru_step4(x + ((long)b * time + t0) * width, x + ((long)(b + 1) * time + t1) * width,
                x + ((long)(b + 2) * time + t2) * width, x + ((long)(b + 3) * time + t3) * width,
                recurrent, h0, h1, h2, h3, scratch, units);
      t0 = next_valid(mask, b, t0 + 1, time); t1 = next_valid(mask, b + 1, t1 + 1, time);
      t2 = next_valid(mask, b + 2, t2 + 1, time); t3 = next_valid(mask, b + 3, t3 + 1, time);
    }
    for (; t0 < time; t0 = next_valid(mask, b, t0 + 1, time))
      gru_step1(x + ((long)b * time + t0) * width, recurrent, h0, scratch, units);
    for (; t1 < time; t1 = next_valid(mask, b + 1, t1 + 1, time))
      gru_step1(x + ((long)(b + 1) * time + t1) * width, recurrent, h1, scratch, units);
    for (; t2 < time; t2 = next_valid(mask, b + 2, t2 + 1, time))
      gru_step1(x + ((long)(b + 2) * time + t2) * width, recurrent, h2, scratch, units);
    for (; t3 < time; t3 = next_valid(mask, b + 3, t3 + 1, time))
      gru_step1(x + ((long)(b + 3) * time + t3) * width, recurrent, h3, scratch, units);
  }
  for (; b < batch; b++) {
    float *h = out + (long)b * units;
    for (int t = next_valid(mask, b, 0, time); t < time; t = next_valid(mask, b, t + 1, time))
      gru_step1(x + ((long)b * time + t) * width, recurrent, h, scratch, units);
  }
}

/* p[0..width) = bias + s·W for one row s (dim floats), W [dim, width] row-major. */
static void project1(float *p, const float *bias, const float *s, const float *w, int dim, int width) {
  for (int j = 0; j < width; j++) p[j] = bias[j];
  int k = 0;
  for (; k + 4 <= dim; k += 4) {
    const float *u = w + k * width;
    axpy4(p, s[k], u, s[k + 1], u + width, s[k + 2], u + 2 * width, s[k + 3], u + 3 * width, width);
  }
  for (; k < dim; k++) axpy(p, s[k], w + k * width, width);
}

/*
 * gru_sequence with the input projection fused in (duet-tf's DuetGruEncode kernel): seq is
 * [batch, time, dim], kernel [dim, 3·units], bias [3·units]; a valid step's projection
 * x_t·W + b is computed when the step runs (four rows at a time as register tiles, like the
 * recurrent products), so padded steps are never projected and no [batch, time, 3·units]
 * projection is stored. Same recurrence, masking and output as gru_sequence; scratch holds
 * 28·units floats (16 for the steps, 12 for four projected rows).
 */
EXPORT(gru_encode)
void gru_encode(const float *seq, const float *kernel, const float *bias, const float *recurrent,
                const int *mask, float *out, float *scratch, int batch, int time, int dim, int units) {
  int width = 3 * units;
  float *p0 = scratch + 16 * units, *p1 = p0 + width, *p2 = p1 + width, *p3 = p2 + width;
  for (int q = 0; q < batch * units; q++) out[q] = 0.0f;
  int b = 0;
  for (; b + 4 <= batch; b += 4) {
    float *h0 = out + (long)b * units, *h1 = h0 + units, *h2 = h1 + units, *h3 = h2 + units;
    int t0 = next_valid(mask, b, 0, time), t1 = next_valid(mask, b + 1, 0, time);
    int t2 = next_valid(mask, b + 2, 0, time), t3 = next_valid(mask, b + 3, 0, time);
    while (t0 < time && t1 < time && t2 < time && t3 < time) {
      rows4_times(p0, p1, p2, p3, bias, bias, bias, bias,
                  seq + ((long)b * time + t0) * dim, seq + ((long)(b + 1) * time + t1) * dim,
                  seq + ((long)(b + 2) * time + t2) * dim, seq + ((long)(b + 3) * time + t3) * dim,
                  kernel, width, dim, width);
      gru_step4(p0, p1, p2, p3, recurrent, h0, h1, h2, h3, scratch, units);
      t0 = next_valid(mask, b, t0 + 1, time); t1 = next_valid(mask, b + 1, t1 + 1, time);
      t2 = next_valid(mask, b + 2, t2 + 1, time); t3 = next_valid(mask, b + 3, t3 + 1, time);
    }
#define GRU_REST(t, row, h) for (; t < time; t = next_valid(mask, row, t + 1, time)) { \
      project1(p0, bias, seq + ((long)(row) * time + t) * dim, kernel, dim, width); \
      gru_step1(p0, recurrent, h, scratch, units); }
    GRU_REST(t0, b, h0) GRU_REST(t1, b + 1, h1) GRU_REST(t2, b + 2, h2) GRU_REST(t3, b + 3, h3)
  }
  for (; b < batch; b++) {
    float *h = out + (long)b * units;
    int t = next_valid(mask, b, 0, time);
    GRU_REST(t, b, h)
#undef GRU_REST
  }
}

/*
 * Row gather: out row i = table row ids[i], rows of `row` 32-bit words (any 4-byte dtype: copied
 * as bits). Returns −1, or the position of the first id outside [0, rows) (nothing is copied).
 */
EXPORT(gather_rows)
int gather_rows(const int *table, const int *ids, int *out, int count, int rows, int row) {
  for (int i = 0; i < count; i++) {
    if (ids[i] < 0 || ids[i] >= rows) return i;
  }
  int row4 = row - row % 4;
  for (int i = 0; i < count; i++) {
    const int *src = table + (long)ids[i] * row;
    int *dst = out + (long)i * row;
    int j = 0;
    for (; j < row4; j += 4) wasm_v128_store(dst + j, wasm_v128_load(src + j));
    for (; j < row; j++) dst[j] = src[j];
  }
  return -1;
}

/* Element-wise binary operations of the broadcast kernels below. */
#define OP_ADD 0
#define OP_SUB 1
#define OP_MUL 2
#define OP_DIV 3

static inline v128_t op4(int op, v128_t a, v128_t b) {
  switch (op) {
    case OP_ADD: return wasm_f32x4_add(a, b);
    case OP_SUB: return wasm_f32x4_sub(a, b);
    case OP_MUL: return wasm_f32x4_mul(a, b);
    default: return wasm_f32x4_div(a, b);
  }
}

static inline float op1(int op, float a, float b) {
  switch (op) {
    case OP_ADD: return a + b;
    case OP_SUB: return a - b;
    case OP_MUL: return a * b;
    default: return a / b;
  }
}

/*
 * out (rows × cols) = x op v, the small operand v broadcast: per column (v has cols values, e.g.
 * a bias) when per_row is 0, per row (v has rows values, e.g. a mask [.., T, 1]) when 1. With
 * swap the operands trade places (v op x). One float32 operation per element, as the cpu backend.
 * The op is a constant in each specialised loop (op4/op1 inline into a switch hoisted by clang).
 */
static inline void bcast_body(const float *x, const float *v, float *out, int rows, int cols,
                              int op, int per_row, int swap) {
  int cols4 = cols - cols % 4;
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (long)r * cols;
    float *o = out + (long)r * cols;
    if (per_row) {
      v128_t s = wasm_f32x4_splat(v[r]);
      int c = 0;
      for (; c < cols4; c += 4) {
        v128_t xv = wasm_v128_load(xr + c);
        wasm_v128_store(o + c, swap ? op4(op, s, xv) : op4(op, xv, s));
      }
      for (; c < cols; c++) o[c] = swap ? op1(op, v[r], xr[c]) : op1(op, xr[c], v[r]);
    } else {
      int c = 0;
      for (; c < cols4; c += 4) {
        v128_t xv = wasm_v128_load(xr + c), vv = wasm_v128_load(v + c);
        wasm_v128_store(o + c, swap ? op4(op, vv, xv) : op4(op, xv, vv));
      }
      for (; c < cols; c++) o[c] = swap ? op1(op, v[c], xr[c]) : op1(op, xr[c], v[c]);
    }
  }
}

EXPORT(bcast_binary)
void bcast_binary(const float *x, const float *v, float *out, int rows, int cols, int op,
                  int per_row, int swap) {
#define CASE(o) \
  if (per_row) { if (swap) bcast_body(x, v, out, rows, cols, o, 1, 1); else bcast_body(x, v, out, rows, cols, o, 1, 0); } \
  else { if (swap) bcast_body(x, v, out, rows, cols, o, 0, 1); else bcast_body(x, v, out, rows, cols, o, 0, 0); }
  switch (op) {
    case OP_ADD: CASE(OP_ADD) break;
    case OP_SUB: CASE(OP_SUB) break;
    case OP_MUL: CASE(OP_MUL) break;
    default: CASE(OP_DIV) break;
  }
#undef CASE
}

/* Four float32 values promoted to two float64 pairs and added to (lo, hi). */
#define ADD_PROMOTED(lo, hi, v) { v128_t v_ = (v); \
  lo = wasm_f64x2_add(lo, wasm_f64x2_promote_low_f32x4(v_)); \
  hi = wasm_f64x2_add(hi, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v_, v_, 2, 3, 2, 3))); }

/* Two float64 pairs rounded to four float32 values at o. */
static inline void store_demoted(float *o, v128_t lo, v128_t hi) {
  v128_t l = wasm_f32x4_demote_f64x2_zero(lo), h = wasm_f32x4_demote_f64x2_zero(hi);
  wasm_v128_store(o, wasm_i32x4_shuffle(l, h, 0, 1, 4, 5));
}

/*
 * out[o, c] = Σ_r x[o, r, c] for x (outer × reduce × inner), adding rows in order in float64 and
 * rounding once, as the cpu backend does (so the values are the same). Sixteen columns (a cache
 * line) at a time, so each row's line is read once even when the block outgrows the cache.
 */
EXPORT(sum_middle)
void sum_middle(const float *x, float *out, int outer, int reduce, int inner) {
  for (int o = 0; o < outer; o++) {
    const float *xo = x + (long)o * reduce * inner;
    float *oo = out + (long)o * inner;
    int c = 0;
    for (; c + 16 <= inner; c += 16) {
      v128_t a0 = wasm_f64x2_splat(0.0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
      const float *p = xo + c;
      for (int r = 0; r < reduce; r++, p += inner) {
        ADD_PROMOTED(a0, a1, wasm_v128_load(p));
        ADD_PROMOTED(a2, a3, wasm_v128_load(p + 4));
        ADD_PROMOTED(a4, a5, wasm_v128_load(p + 8));
        ADD_PROMOTED(a6, a7, wasm_v128_load(p + 12));
      }
      store_demoted(oo + c, a0, a1); store_demoted(oo + c + 4, a2, a3);
      store_demoted(oo + c + 8, a4, a5); store_demoted(oo + c + 12, a6, a7);
    }
    for (; c + 4 <= inner; c += 4) {
      v128_t a0 = wasm_f64x2_splat(0.0), a1 = a0;
      const float *p = xo + c;
      for (int r = 0; r < reduce; r++, p += inner) ADD_PROMOTED(a0, a1, wasm_v128_load(p));
      store_demoted(oo + c, a0, a1);
    }
    for (; c < inner; c++) {
      double acc = 0.0;
      for (int r = 0; r < reduce; r++) acc += xo[(long)r * inner + c];
      oo[c] = (float)acc;
    }
  }
}

/* Comparisons of the compare kernels below, in tfjs's kernel order. */
#define CMP_EQUAL 0
#define CMP_NOT_EQUAL 1
#define CMP_GREATER 2
#define CMP_GREATER_EQUAL 3
#define CMP_LESS 4
#define CMP_LESS_EQUAL 5

static inline v128_t cmp4f(int op, v128_t a, v128_t b) {
  switch (op) {
    case CMP_EQUAL: return wasm_f32x4_eq(a, b);
    case CMP_NOT_EQUAL: return wasm_f32x4_ne(a, b);
    case CMP_GREATER: return wasm_f32x4_gt(a, b);
    case CMP_GREATER_EQUAL: return wasm_f32x4_ge(a, b);
    case CMP_LESS: return wasm_f32x4_lt(a, b);
    default: return wasm_f32x4_le(a, b);
  }
}

static inline v128_t cmp4i(int op, v128_t a, v128_t b) {
  switch (op) {
    case CMP_EQUAL: return wasm_i32x4_eq(a, b);
    case CMP_NOT_EQUAL: return wasm_i32x4_ne(a, b);
    case CMP_GREATER: return wasm_i32x4_gt(a, b);
    case CMP_GREATER_EQUAL: return wasm_i32x4_ge(a, b);
    case CMP_LESS: return wasm_i32x4_lt(a, b);
    default: return wasm_i32x4_le(a, b);
  }
}

static inline int cmp1f(int op, float a, float b) {
  switch (op) {
    case CMP_EQUAL: return a == b;
    case CMP_NOT_EQUAL: return a != b;
    case CMP_GREATER: return a > b;
    case CMP_GREATER_EQUAL: return a >= b;
    case CMP_LESS: return a < b;
    default: return a <= b;
  }
}

static inline int cmp1i(int op, int a, int b) {
  switch (op) {
    case CMP_EQUAL: return a == b;
    case CMP_NOT_EQUAL: return a != b;
    case CMP_GREATER: return a > b;
    case CMP_GREATER_EQUAL: return a >= b;
    case CMP_LESS: return a < b;
    default: return a <= b;
  }
}

/* Four lane masks (all ones or zero) of 4 lanes each → sixteen bytes 1 or 0. */
static inline v128_t masks_to_bytes(v128_t m0, v128_t m1, v128_t m2, v128_t m3) {
  v128_t h0 = wasm_i16x8_narrow_i32x4(m0, m1), h1 = wasm_i16x8_narrow_i32x4(m2, m3);
  return wasm_v128_and(wasm_i8x16_narrow_i16x8(h0, h1), wasm_i8x16_splat(1));
}

/*
 * out[i] = a[i] op b[i] (b_step 1) or a[i] op b[0] (b_step 0) as bytes 0/1 (tfjs bool), for
 * float32 (is_int 0, IEEE: NaN compares false, except not-equal) or int32 values.
 */
static inline void compare_body(const void *a, const void *b, unsigned char *out, int n, int b_step,
                                int op, int is_int) {
  const float *af = (const float *)a, *bf = (const float *)b;
  const int *ai = (const int *)a, *bi = (const int *)b;
  v128_t bs = wasm_v128_load32_splat(b);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
#define LANES(q) (is_int ? cmp4i(op, wasm_v128_load(af + i + 4 * q), b_step ? wasm_v128_load(bf + i + 4 * q) : bs) \
                        : cmp4f(op, wasm_v128_load(af + i + 4 * q), b_step ? wasm_v128_load(bf + i + 4 * q) : bs))
    wasm_v128_store(out + i, masks_to_bytes(LANES(0), LANES(1), LANES(2), LANES(3)));
#undef LANES
  }
  for (; i < n; i++) {
    int j = b_step ? i : 0;
    out[i] = (unsigned char)(is_int ? cmp1i(op, ai[i], bi[j]) : cmp1f(op, af[i], bf[j]));
  }
}

EXPORT(compare)
void compare(const void *a, const void *b, unsigned char *out, int n, int b_step, int op, int is_int) {
#define CASE(o) \
  if (is_int) { if (b_step) compare_body(a, b, out, n, 1, o, 1); else compare_body(a, b, out, n, 0, o, 1); } \
  else { if (b_step) compare_body(a, b, out, n, 1, o, 0); else compare_body(a, b, out, n, 0, o, 0); }
  switch (op) {
    case CMP_EQUAL: CASE(CMP_EQUAL) break;
    case CMP_NOT_EQUAL: CASE(CMP_NOT_EQUAL) break;
    case CMP_GREATER: CASE(CMP_GREATER) break;
    case CMP_GREATER_EQUAL: CASE(CMP_GREATER_EQUAL) break;
    case CMP_LESS: CASE(CMP_LESS) break;
    default: CASE(CMP_LESS_EQUAL) break;
  }
#undef CASE
}

/* The four lanes of v added. */
static inline float hsum4(v128_t v) {
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

/* Mean and rstd = 1/√(var + eps) of one row of d floats (d a multiple of 4). */
static inline void row_stats(const float *xr, int d, float eps, float *mean, float *rstd) {
  float inv = 1.0f / (float)d;
  v128_t s = wasm_f32x4_splat(0.0f);
  for (int j = 0; j < d; j += 4) s = wasm_f32x4_add(s, wasm_v128_load(xr + j));
  float m = hsum4(s) * inv;
  v128_t mv = wasm_f32x4_splat(m), q = wasm_f32x4_splat(0.0f);
  for (int j = 0; j < d; j += 4) {
    v128_t c = wasm_f32x4_sub(wasm_v128_load(xr + j), mv);
    q = wasm_f32x4_add(q, wasm_f32x4_mul(c, c));
  }
  *mean = m;
  *rstd = 1.0f / __builtin_sqrtf(hsum4(q) * inv + eps);
}

/* Layer normalisation over rows of d values (d a multiple of 4): y = (x − mean)·rstd·gamma + beta. */
EXPORT(layer_norm)
void layer_norm(const float *x, const float *gamma, const float *beta, float *y, int rows, int d, float eps) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (long)r * d;
    float *yr = y + (long)r * d;
    float m, rs;
    row_stats(xr, d, eps, &m, &rs);
    v128_t mv = wasm_f32x4_splat(m), rv = wasm_f32x4_splat(rs);
    for (int j = 0; j < d; j += 4) {
      v128_t c = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + j), mv), rv);
      wasm_v128_store(yr + j, wasm_f32x4_add(wasm_f32x4_mul(c, wasm_v128_load(gamma + j)),
                                             wasm_v128_load(beta + j)));
    }
  }
}

/*
 * The gradient of layer_norm, each row's statistics recomputed from x (cheaper than storing
 * them): dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·gamma and x̂ = (x − mean)·rstd;
 * dgamma = Σ_rows dy·x̂ and dbeta = Σ_rows dy, summed in float64 (acc holds 2·d doubles).
 * d a multiple of 4.
 */
EXPORT(layer_norm_grad)
void layer_norm_grad(const float *dy, const float *x, const float *gamma, float *dx, float *dgamma,
                     float *dbeta, double *acc, int rows, int d, float eps) {
  float inv = 1.0f / (float)d;
  for (int j = 0; j < 2 * d; j++) acc[j] = 0.0;
  for (int r = 0; r < rows; r++) {
    const float *dyr = dy + (long)r * d, *xr = x + (long)r * d;
    float *dxr = dx + (long)r * d;
    float m, rs;
    row_stats(xr, d, eps, &m, &rs);
    v128_t mv = wasm_f32x4_splat(m), rv = wasm_f32x4_splat(rs);
    v128_t sg = wasm_f32x4_splat(0.0f), sgx = sg;
    for (int j = 0; j < d; j += 4) {
      v128_t xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + j), mv), rv);
      v128_t dyv = wasm_v128_load(dyr + j);
      v128_t g = wasm_f32x4_mul(dyv, wasm_v128_load(gamma + j));
      sg = wasm_f32x4_add(sg, g);
      sgx = wasm_f32x4_add(sgx, wasm_f32x4_mul(g, xh));
      double *ag = acc + j, *ab = acc + d + j;
      ADD_PROMOTED(*(v128_t *)ag, *(v128_t *)(ag + 2), wasm_f32x4_mul(dyv, xh));
      ADD_PROMOTED(*(v128_t *)ab, *(v128_t *)(ab + 2), dyv);
    }
    v128_t a = wasm_f32x4_splat(hsum4(sg) * inv), b = wasm_f32x4_splat(hsum4(sgx) * inv);
    for (int j = 0; j < d; j += 4) {
      v128_t xh = wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(xr + j), mv), rv);
      v128_t g = wasm_f32x4_mul(wasm_v128_load(dyr + j), wasm_v128_load(gamma + j));
      wasm_v128_store(dxr + j, wasm_f32x4_mul(rv, wasm_f32x4_sub(wasm_f32x4_sub(g, a), wasm_f32x4_mul(xh, b))));
    }
  }
  for (int j = 0; j < d; j++) {
    dgamma[j] = (float)acc[j];
    dbeta[j] = (float)acc[d + j];
  }
}

/*
 * e^x for x ≤ 0 down to −87.3 (clamped; below, the result is 2^−126·p, within float32 rounding of
 * the e^x that underflows to 0 after the caller's normalisation): 2^n·p(r), x = n·ln2 + r,
 * |r| ≤ ln2/2, degree-6 polynomial. n is rounded by adding 1.5·2^23, whose low mantissa bits then
 * hold n itself, so 2^n is those bits shifted into the exponent.
 */
static inline v128_t exp4(v128_t x) {
  x = wasm_f32x4_pmin(wasm_f32x4_pmax(x, wasm_f32x4_splat(-87.3f)), wasm_f32x4_splat(88.0f));
  const v128_t magic = wasm_f32x4_splat(12582912.0f);
  v128_t t = wasm_f32x4_add(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)), magic);
  v128_t n = wasm_f32x4_sub(t, magic);
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));
  r = wasm_f32x4_add(r, wasm_f32x4_mul(n, wasm_f32x4_splat(2.12194440e-4f)));
  v128_t p = wasm_f32x4_splat(1.0f / 720.0f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 120.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 24.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 6.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(0.5f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  v128_t scale = wasm_i32x4_add(wasm_i32x4_shl(t, 23), wasm_i32x4_splat(127 << 23));
  return wasm_f32x4_mul(p, scale);
}

/* The masked score of a disallowed position (as the op path's NEG_LARGE): softmax gives it 0. */
#define ATT_NEG_LARGE (-1e9f)

/* The largest of the four lanes. */
static inline float hmax4(v128_t v) {
  v = wasm_f32x4_pmax(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_pmax(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

/* Lane l of v in all four lanes. */
#define LANE(v, l) wasm_i32x4_shuffle(v, v, l, l, l, l)

/*
 * One head's keys and values copied out of rows of `stride` floats into dense blocks, positions
 * padded with zeros to tvp (a multiple of 4): kt and vt transposed (dk × tvp), kk and vv by
 * position (tvp × dk). kk and vt may be 0 (not needed forward).
 */
static void gather_head(const float *k, const float *v, int tv, int tvp, int dk, int stride, float *kt,
                        float *kk, float *vt, float *vv) {
  for (int j = 0; j < tvp; j++) {
    for (int d = 0; d < dk; d++) {
      float kv = j < tv ? k[(long)j * stride + d] : 0.0f, vvv = j < tv ? v[(long)j * stride + d] : 0.0f;
      kt[d * tvp + j] = kv;
      vv[j * dk + d] = vvv;
      if (kk != 0) kk[j * dk + d] = kv;
      if (vt != 0) vt[d * tvp + j] = vvv;
    }
  }
}

/*
 * The visibility of one batch row's positions as lane masks (all ones = valid) padded with 0 to
 * tvp, and the first valid position (tv if none).
 */
static int batch_visibility(const float *mask, int tv, int tvp, int *vis) {
  int first = tv;
  for (int j = 0; j < tvp; j++) {
    int ok = j < tv && (mask == 0 || mask[j] != 0.0f);
    vis[j] = ok ? -1 : 0;
    if (ok && j < first) first = j;
  }
  return first;
}

/*
 * Probabilities p[0..4·blocks) of query row i within one head, from the query q (dk floats), the
 * head's transposed keys kt (dk × tvp) and the batch row's visibility: positions past the row's
 * end (causal: j > i) and padding get exactly 0; a row that may see nothing gets 1/tv at every
 * position (a softmax over equal scores, as the op path gives). Returns the number of blocks of 4
 * positions that may hold non-zero p; m (one lane mask per position, blocks·4) says which were
 * allowed (all 0 for a row that sees nothing).
 */
static int attention_row(const float *q, const float *kt, const int *vis, int first, int causal, int i,
                         int tv, int tvp, int dk, float scale, float *p, int *m) {
  int jend = causal ? (i + 1 < tv ? i + 1 : tv) : tv;
  if (first >= jend) {
    int blocks = tvp / 4;
    for (int j = 0; j < tvp; j++) {
      p[j] = j < tv ? 1.0f / (float)tv : 0.0f;
      m[j] = 0;
    }
    return blocks;
  }
  int blocks = (jend + 3) / 4;
  v128_t sv = wasm_f32x4_splat(scale), end = wasm_i32x4_splat(jend), neg = wasm_f32x4_splat(ATT_NEG_LARGE);
  v128_t maxv = neg;
  for (int bl = 0; bl < blocks; bl++) {
    int j = 4 * bl;
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int d = 0; d < dk; d++) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load32_splat(q + d), wasm_v128_load(kt + d * tvp + j)));
    v128_t idx = wasm_i32x4_make(j, j + 1, j + 2, j + 3);
    v128_t ok = wasm_v128_and(wasm_v128_load(vis + j), wasm_i32x4_lt(idx, end));
    v128_t sc = wasm_v128_bitselect(wasm_f32x4_mul(acc, sv), neg, ok);
    wasm_v128_store(p + j, sc);
    wasm_v128_store(m + j, ok);
    maxv = wasm_f32x4_pmax(maxv, sc);
  }
  v128_t mx = wasm_f32x4_splat(hmax4(maxv)), total = wasm_f32x4_splat(0.0f);
  for (int bl = 0; bl < blocks; bl++) {
    int j = 4 * bl;
    v128_t e = wasm_v128_and(exp4(wasm_f32x4_sub(wasm_v128_load(p + j), mx)), wasm_v128_load(m + j));
    wasm_v128_store(p + j, e);
    total = wasm_f32x4_add(total, e);
  }
  v128_t inv = wasm_f32x4_splat(1.0f / hsum4(total));
  for (int bl = 0; bl < blocks; bl++) wasm_v128_store(p + 4 * bl, wasm_f32x4_mul(wasm_v128_load(p + 4 * bl), inv));
  return blocks;
}

/* p[0..4·blocks) ⊙ the keep row (tv values; positions past tv count 0). */
static inline void apply_keep(float *p, const float *keep_row, int blocks, int tv) {
  for (int j = 0; j < 4 * blocks; j++) p[j] = j < tv ? p[j] * keep_row[j] : 0.0f;
}

/* o[0..dk) = Σ_j w[j]·rows[j] over 4·blocks positions (rows: dk floats each). */
static inline void weighted_rows(const float *w, const float *rows, int blocks, int dk, float *o) {
  for (int d = 0; d < dk; d += 4) {
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int bl = 0; bl < blocks; bl++) {
      v128_t pv = wasm_v128_load(w + 4 * bl);
      const float *r = rows + (4 * bl) * dk + d;
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(LANE(pv, 0), wasm_v128_load(r)));
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(LANE(pv, 1), wasm_v128_load(r + dk)));
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(LANE(pv, 2), wasm_v128_load(r + 2 * dk)));
      acc = wasm_f32x4_add(acc, wasm_f32x4_mul(LANE(pv, 3), wasm_v128_load(r + 3 * dk)));
    }
    wasm_v128_store(o + d, acc);
  }
}

/* rows[j] += w[j]·x for the 4·blocks positions (rows: dk floats each, x: dk floats). */
static inline void add_outer(float *rows, const float *w, const float *x, int blocks, int dk) {
  for (int j = 0; j < 4 * blocks; j++) {
    v128_t s = wasm_v128_load32_splat(w + j);
    float *r = rows + j * dk;
    for (int d = 0; d < dk; d += 4) wasm_v128_store(r + d, wasm_f32x4_add(wasm_v128_load(r + d), wasm_f32x4_mul(s, wasm_v128_load(x + d))));
  }
}

/*
 * Fused multi-head attention, forward (duet-tf's DuetAttention kernel): q [b, tq, h·dk],
 * k and v [b, tv, h·dk] (heads side by side), mask [b, tv] (non-zero = valid) or 0, keep
 * [b, h, tq, tv] (scaled dropout multipliers) or 0 → out [b, tq, h·dk]:
 * out = (softmax(scale·q·kᵀ, masked) ⊙ keep)·v per head. dk a multiple of 4. scratch holds
 * 2·tvp·dk + 3·tvp floats, tvp = tv rounded up to a multiple of 4.
 */
EXPORT(attention_forward)
void attention_forward(const float *q, const float *k, const float *v, const float *mask, const float *keep,
                       float *out, float *scratch, int b, int tq, int tv, int h, int dk, float scale, int causal) {
  int stride = h * dk, tvp = (tv + 3) & ~3;
  float *kt = scratch, *vv = kt + tvp * dk, *p = vv + tvp * dk;
  int *m = (int *)(p + tvp), *vis = m + tvp;
  for (int bi = 0; bi < b; bi++) {
    int first = batch_visibility(mask == 0 ? 0 : mask + (long)bi * tv, tv, tvp, vis);
    for (int hi = 0; hi < h; hi++) {
      gather_head(k + (long)bi * tv * stride + hi * dk, v + (long)bi * tv * stride + hi * dk, tv, tvp, dk, stride,
                  kt, 0, 0, vv);
      for (int i = 0; i < tq; i++) {
        long at = ((long)bi * tq + i) * stride + hi * dk;
        int blocks = attention_row(q + at, kt, vis, first, causal, i, tv, tvp, dk, scale, p, m);
        if (keep != 0) apply_keep(p, keep + (((long)bi * h + hi) * tq + i) * tv, blocks, tv);
        weighted_rows(p, vv, blocks, dk, out + at);
      }
    }
  }
}

/*
 * The gradient of attention_forward, probabilities recomputed: from dy [b, tq, h·dk] → dq, dk,
 * dv (shapes of q, k, v). dS = P ⊙ (dP − Σ P⊙dP) with dP = (dy·vᵀ) ⊙ keep, zero where the
 * position was not allowed; dq = scale·dS·k, dk = scale·dSᵀ·q, dv = (P ⊙ keep)ᵀ·dy. scratch holds
 * 6·tvp·dk + 5·tvp floats.
 */
EXPORT(attention_backward)
void attention_backward(const float *dy, const float *q, const float *k, const float *v, const float *mask,
                        const float *keep, float *dq, float *dk_out, float *dv_out, float *scratch, int b, int tq,
                        int tv, int h, int dk, float scale, int causal) {
  int stride = h * dk, tvp = (tv + 3) & ~3;
  float *kt = scratch, *kk = kt + tvp * dk, *vt = kk + tvp * dk, *vv = vt + tvp * dk;
  float *gk = vv + tvp * dk, *gv = gk + tvp * dk, *p = gv + tvp * dk, *pk = p + tvp, *ds = pk + tvp;
  int *m = (int *)(ds + tvp), *vis = m + tvp;
  v128_t sv = wasm_f32x4_splat(scale);
  for (int bi = 0; bi < b; bi++) {
    int first = batch_visibility(mask == 0 ? 0 : mask + (long)bi * tv, tv, tvp, vis);
    for (int hi = 0; hi < h; hi++) {
      long base_k = (long)bi * tv * stride + hi * dk;
      gather_head(k + base_k, v + base_k, tv, tvp, dk, stride, kt, kk, vt, vv);
      for (int z = 0; z < 2 * tvp * dk; z++) gk[z] = 0.0f;
      for (int i = 0; i < tq; i++) {
        long at = ((long)bi * tq + i) * stride + hi * dk;
        const float *qi = q + at, *gi = dy + at;
        int blocks = attention_row(qi, kt, vis, first, causal, i, tv, tvp, dk, scale, p, m);
        const float *kr = keep == 0 ? 0 : keep + (((long)bi * h + hi) * tq + i) * tv;
        for (int j = 0; j < 4 * blocks; j++) pk[j] = kr == 0 ? p[j] : (j < tv ? p[j] * kr[j] : 0.0f);
        /* dP = (dy_i · v_j) ⊙ keep, then c = Σ P ⊙ dP */
        v128_t cv = wasm_f32x4_splat(0.0f);
        for (int bl = 0; bl < blocks; bl++) {
          int j = 4 * bl;
          v128_t acc = wasm_f32x4_splat(0.0f);
          for (int d = 0; d < dk; d++) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load32_splat(gi + d), wasm_v128_load(vt + d * tvp + j)));
          wasm_v128_store(ds + j, acc);
        }
        if (kr != 0) for (int j = 0; j < 4 * blocks; j++) ds[j] = j < tv ? ds[j] * kr[j] : 0.0f;
        for (int bl = 0; bl < blocks; bl++) cv = wasm_f32x4_add(cv, wasm_f32x4_mul(wasm_v128_load(p + 4 * bl), wasm_v128_load(ds + 4 * bl)));
        v128_t c = wasm_f32x4_splat(hsum4(cv));
        for (int bl = 0; bl < blocks; bl++) {
          int j = 4 * bl;
          v128_t g = wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(p + j), wasm_f32x4_sub(wasm_v128_load(ds + j), c)), sv);
          wasm_v128_store(ds + j, wasm_v128_and(g, wasm_v128_load(m + j)));
        }
        add_outer(gv, pk, gi, blocks, dk);
        weighted_rows(ds, kk, blocks, dk, dq + at);
        add_outer(gk, ds, qi, blocks, dk);
      }
      for (int j = 0; j < tv; j++) {
        for (int d = 0; d < dk; d++) {
          dk_out[base_k + (long)j * stride + d] = gk[j * dk + d];
          dv_out[base_k + (long)j * stride + d] = gv[j * dk + d];
        }
      }
    }
  }
}

/*
 * One Adam step over n values (DuetAdam), into wo, mo, vo (not aliasing the inputs), each
 * operation rounded to float32 in tf.train.adam's order:
 *   g' = g·scale, m' = m·b1 + g'·omb1, v' = v·b2 + g'²·omb2, w' = (m'/c1) / (√(v'/c2) + eps) · neglr + w.
 */
static inline void adam4(const float *w, const float *g, const float *m, const float *v, float *wo, float *mo,
                         float *vo, v128_t s, v128_t b1, v128_t omb1, v128_t b2, v128_t omb2, v128_t c1,
                         v128_t c2, v128_t eps, v128_t neglr) {
  v128_t gi = wasm_f32x4_mul(wasm_v128_load(g), s);
  v128_t mi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m), b1), wasm_f32x4_mul(gi, omb1));
  v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v), b2), wasm_f32x4_mul(wasm_f32x4_mul(gi, gi), omb2));
  v128_t denom = wasm_f32x4_add(wasm_f32x4_sqrt(wasm_f32x4_div(vi, c2)), eps);
  v128_t step = wasm_f32x4_mul(wasm_f32x4_div(wasm_f32x4_div(mi, c1), denom), neglr);
  wasm_v128_store(wo, wasm_f32x4_add(step, wasm_v128_load(w)));
  wasm_v128_store(mo, mi);
  wasm_v128_store(vo, vi);
}

EXPORT(adam_update)
void adam_update(const float *w, const float *g, const float *m, const float *v, float *wo, float *mo, float *vo,
                 int n, float scale, float b1, float omb1, float b2, float omb2, float c1, float c2, float eps,
                 float neglr) {
  v128_t S = wasm_f32x4_splat(scale), B1 = wasm_f32x4_splat(b1), OMB1 = wasm_f32x4_splat(omb1);
  v128_t B2 = wasm_f32x4_splat(b2), OMB2 = wasm_f32x4_splat(omb2), C1 = wasm_f32x4_splat(c1);
  v128_t C2 = wasm_f32x4_splat(c2), EPS = wasm_f32x4_splat(eps), NEGLR = wasm_f32x4_splat(neglr);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    adam4(w + i, g + i, m + i, v + i, wo + i, mo + i, vo + i, S, B1, OMB1, B2, OMB2, C1, C2, EPS, NEGLR);
  }
  for (; i < n; i++) {
    float gi = g[i] * scale;
    float mi = m[i] * b1 + gi * omb1;
    float vi = v[i] * b2 + (gi * gi) * omb2;
    float denom = __builtin_sqrtf(vi / c2) + eps;
    wo[i] = (mi / c1) / denom * neglr + w[i];
    mo[i] = mi;
    vo[i] = vi;
  }
}
