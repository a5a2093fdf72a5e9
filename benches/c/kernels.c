/* The naive C loops the benchmarks compare against, compiled by build.rs with
 * `cc -O3 -march=native`: what a C programmer writes without a BLAS. */
#include <math.h>

void c_matmul(const float *a, const float *b, float *c, int m, int n, int k) {
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) c[i * n + j] = 0.0f;
        for (int l = 0; l < k; l++) {
            float av = a[i * k + l];
            for (int j = 0; j < n; j++) c[i * n + j] += av * b[l * n + j];
        }
    }
}

/* z[m×n] = x[m×k]·w[n×k]ᵀ + b[n] */
void c_linear(const float *x, const float *w, const float *b, float *z, int m, int n, int k) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            for (int l = 0; l < k; l++) s += x[i * k + l] * w[j * k + l];
            z[i * n + j] = s + b[j];
        }
}

void c_softmax(const float *x, float *y, int rows, int cols) {
    for (int i = 0; i < rows; i++) {
        const float *r = x + i * cols;
        float m = -INFINITY, s = 0.0f;
        for (int j = 0; j < cols; j++) m = r[j] > m ? r[j] : m;
        for (int j = 0; j < cols; j++) { y[i * cols + j] = expf(r[j] - m); s += y[i * cols + j]; }
        for (int j = 0; j < cols; j++) y[i * cols + j] /= s;
    }
}

/* NCHW, batch 1, stride 1, pad 1, 3×3 filters. */
void c_conv2d(const float *data, const float *weight, float *out, int cin, int cout, int h, int w) {
    for (int f = 0; f < cout; f++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float s = 0.0f;
                for (int c = 0; c < cin; c++)
                    for (int ry = 0; ry < 3; ry++)
                        for (int rx = 0; rx < 3; rx++) {
                            int yy = y + ry - 1, xx = x + rx - 1;
                            if (yy >= 0 && yy < h && xx >= 0 && xx < w)
                                s += data[(c * h + yy) * w + xx] * weight[((f * cin + c) * 3 + ry) * 3 + rx];
                        }
                out[(f * h + y) * w + x] = s;
            }
}

void c_relu(const float *x, float *y, int n) {
    for (int i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* y[i,j] = x[i,j]·w[j] / sqrt(mean_k x[i,k]² + 1e-6) */
void c_rmsnorm(const float *x, const float *w, float *y, int rows, int cols) {
    for (int i = 0; i < rows; i++) {
        const float *r = x + i * cols;
        float s = 0.0f;
        for (int j = 0; j < cols; j++) s += r[j] * r[j];
        float inv = 1.0f / sqrtf(s / cols + 1e-6f);
        for (int j = 0; j < cols; j++) y[i * cols + j] = r[j] * inv * w[j];
    }
}

/* y[i,j] = (x[i,j] - mean_i) / sqrt(var_i + 1e-5) * g[j] + b[j], var_i the biased variance */
void c_layernorm(const float *x, const float *g, const float *b, float *y, int rows, int cols) {
    for (int i = 0; i < rows; i++) {
        const float *r = x + i * cols;
        float s = 0.0f;
        for (int j = 0; j < cols; j++) s += r[j];
        float mean = s / cols;
        float q = 0.0f;
        for (int j = 0; j < cols; j++) q += (r[j] - mean) * (r[j] - mean);
        float sd = sqrtf(q / cols + 1e-5f);
        for (int j = 0; j < cols; j++) y[i * cols + j] = (r[j] - mean) / sd * g[j] + b[j];
    }
}

/* GELU, tanh form: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) */
static inline float gelu(float x) {
    return 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
}

void c_gelu(const float *x, float *y, int n) {
    for (int i = 0; i < n; i++) y[i] = gelu(x[i]);
}

/* y[i,j] = gelu(x[i,j] + b[j]) */
void c_bias_gelu(const float *x, const float *b, float *y, int rows, int cols) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) y[i * cols + j] = gelu(x[i * cols + j] + b[j]);
}
