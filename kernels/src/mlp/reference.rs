//! The plain-Rust oracle: the MLP's forward pass in straightforward `f32`
//! loops, and the numpy reference files it is checked against.
//!
//! `logits = relu(x · W0ᵀ + b0) · W1ᵀ + b1`, with `x` the image's pixels
//! divided by 255. The loops accumulate each dot product in `f32` in index
//! order, then add the bias (as `x @ w.T + b` does). That is not numpy's
//! summation order, so logits differ from numpy's in the last bits (about
//! 1e-5), but the smallest gap between the top two logits over the 6,978
//! test images is 5.1e-3, so the predictions are identical.

use std::path::Path;

use serde::Deserialize;

use super::error::{read_file, DataError};
use super::idx::check_classes;
use super::params::MlpParams;
use super::{HIDDEN, INPUT, NUM_CLASSES};

/// An image's pixels as the model's input: each pixel divided by 255
/// (torchvision's `ToTensor`), row-major. Panics unless `pixels` has
/// `INPUT` (784) values.
pub fn image_to_input(pixels: &[u8]) -> [f32; INPUT] {
    assert_eq!(pixels.len(), INPUT, "an MLP input is one 28x28 image ({INPUT} pixels)");
    let mut x = [0.0f32; INPUT];
    for (xi, &p) in x.iter_mut().zip(pixels) {
        *xi = f32::from(p) / 255.0;
    }
    x
}

/// `out = x · Wᵀ + b` for one row `x`: `W` is `out.len() x x.len()`,
/// row-major, and `b` has `out.len()` values. Destination-passing, like the
/// MLC chapter's `env.linear`. Panics if the lengths do not fit.
pub fn linear_reference(x: &[f32], w: &[f32], b: &[f32], out: &mut [f32]) {
    let (n, k) = (out.len(), x.len());
    assert_eq!(w.len(), n * k, "linear: W must be {n}x{k}");
    assert_eq!(b.len(), n, "linear: b must have {n} values");
    for (i, o) in out.iter_mut().enumerate() {
        let row = &w[i * k..(i + 1) * k];
        let mut acc = 0.0f32;
        for (&xj, &wj) in x.iter().zip(row) {
            acc += xj * wj;
        }
        *o = acc + b[i];
    }
}

/// `out = max(x, 0)`, elementwise. Panics if the lengths differ.
pub fn relu_reference(x: &[f32], out: &mut [f32]) {
    assert_eq!(x.len(), out.len(), "relu: input and output lengths");
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v.max(0.0);
    }
}

/// The MLP's second layer, the chapter's external `env.linear`:
/// `out (1x10) = x (1x128) · W1ᵀ + b1`, with `w1` 10x128 row-major.
/// Panics unless `x` has 128 values, `w1` 1280, `b1` and `out` 10.
pub fn linear1_reference(x: &[f32], w1: &[f32], b1: &[f32], out: &mut [f32]) {
    assert_eq!(x.len(), HIDDEN, "linear1: x must be 1x{HIDDEN}");
    assert_eq!(out.len(), NUM_CLASSES, "linear1: out must be 1x{NUM_CLASSES}");
    linear_reference(x, w1, b1, out);
}

/// The whole forward pass for one input `x` (784 values, see
/// [`image_to_input`]): the 10 logits. Panics unless `x` has 784 values and
/// `params` has the model's shapes (as [`load_params`](super::load_params)
/// guarantees).
pub fn reference_forward(params: &MlpParams, x: &[f32]) -> [f32; NUM_CLASSES] {
    assert_eq!(x.len(), INPUT, "forward: x must be 1x{INPUT}");
    let mut lin0 = [0.0f32; HIDDEN];
    linear_reference(x, &params.w0, &params.b0, &mut lin0);
    let mut hidden = [0.0f32; HIDDEN];
    relu_reference(&lin0, &mut hidden);
    let mut logits = [0.0f32; NUM_CLASSES];
    linear1_reference(&hidden, &params.w1, &params.b1, &mut logits);
    logits
}

/// The index of the largest logit; the first one on ties (as numpy's
/// `argmax`). NaNs are never chosen over a number. Panics on an empty slice.
pub fn argmax(logits: &[f32]) -> usize {
    assert!(!logits.is_empty(), "argmax of nothing");
    let mut best = 0;
    for (i, &v) in logits.iter().enumerate().skip(1) {
        if v > logits[best] || (logits[best].is_nan() && !v.is_nan()) {
            best = i;
        }
    }
    best
}

/// The reference prediction (class index) for one 28x28 image.
pub fn reference_predict(params: &MlpParams, pixels: &[u8]) -> u8 {
    argmax(&reference_forward(params, &image_to_input(pixels))) as u8
}

/// Loads `numpy_predictions.u8`: one class index per test image, from
/// numpy's float32 forward pass. Errors if the file cannot be read or holds
/// a byte that is not a class index.
pub fn reference_predictions(path: impl AsRef<Path>) -> Result<Vec<u8>, DataError> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    check_classes(path, &bytes)?;
    Ok(bytes)
}

/// What `numpy_reference.json` records.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct NumpyReference {
    /// Number of images the reference was computed over (6978).
    pub num_images: usize,
    /// How many of them numpy's float32 pass classified correctly (6014).
    pub correct_f32: usize,
    /// `correct_f32 / num_images`.
    pub accuracy_f32: f64,
    /// The smallest gap between the top two float64 logits over all images.
    pub min_top2_logit_margin_f64: f64,
    /// The largest |float32 logit - float64 logit| numpy saw.
    pub max_abs_logit_diff_f32_vs_f64: f64,
    /// Logits of the first images.
    #[serde(rename = "first_8")]
    pub first: Vec<ReferenceLogits>,
}

/// One image's label, prediction and float64 logits (rounded to 6 decimals).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ReferenceLogits {
    /// The image's index in the test set.
    pub index: usize,
    /// Its label.
    pub label: u8,
    /// numpy's prediction.
    pub pred: u8,
    /// The 10 logits, computed in float64.
    pub logits_f64: [f64; NUM_CLASSES],
}

/// Loads `numpy_reference.json`.
pub fn load_numpy_reference(path: impl AsRef<Path>) -> Result<NumpyReference, DataError> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    serde_json::from_slice(&bytes).map_err(|e| DataError::manifest(path, format!("not a valid numpy reference: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_is_pixel_over_255() {
        let pixels: Vec<u8> = (0..INPUT).map(|i| (i % 256) as u8).collect();
        let x = image_to_input(&pixels);
        assert_eq!(x[0], 0.0);
        assert_eq!(x[255], 1.0);
        assert_eq!(x[51], 0.2);
        assert_eq!(x[300], 44.0 / 255.0);
    }

    #[test]
    #[should_panic(expected = "784 pixels")]
    fn input_must_be_one_image() {
        image_to_input(&[0; 10]);
    }

    #[test]
    fn linear_and_relu_by_hand() {
        // W = [[1, 2, 3], [-1, 0, 1]], b = [0.5, -4]
        let w = [1.0, 2.0, 3.0, -1.0, 0.0, 1.0];
        let mut out = [0.0; 2];
        linear_reference(&[1.0, 1.0, 2.0], &w, &[0.5, -4.0], &mut out);
        assert_eq!(out, [9.5, -3.0]);
        let mut r = [0.0; 2];
        relu_reference(&out, &mut r);
        assert_eq!(r, [9.5, 0.0]);
    }

    #[test]
    fn forward_of_a_hand_built_model() {
        // Hidden unit i sees pixel i only (weight 1); bias -0.5 so that only
        // pixels above half intensity pass the relu. Class k sums hidden
        // units k*12 .. k*12+12, so the brightest block of 12 pixels wins.
        let mut p = MlpParams {
            w0: vec![0.0; HIDDEN * INPUT],
            b0: vec![-0.5; HIDDEN],
            w1: vec![0.0; NUM_CLASSES * HIDDEN],
            b1: vec![0.0; NUM_CLASSES],
        };
        for i in 0..HIDDEN {
            p.w0[i * INPUT + i] = 1.0;
        }
        for k in 0..NUM_CLASSES {
            for i in k * 12..k * 12 + 12 {
                p.w1[k * HIDDEN + i] = 1.0;
            }
        }
        p.b1[9] = 0.25;
        let mut pixels = [0u8; INPUT];
        pixels[36..48].fill(255); // block 3
        pixels[0] = 200; // block 0, partly
        let logits = reference_forward(&p, &image_to_input(&pixels));
        assert!((logits[3] - 6.0).abs() < 1e-6, "{logits:?}");
        assert!((logits[0] - (200.0 / 255.0 - 0.5)).abs() < 1e-6);
        assert_eq!(logits[9], 0.25);
        assert_eq!(reference_predict(&p, &pixels), 3);
        assert_eq!(reference_predict(&p, &[0; INPUT]), 9);
    }

    #[test]
    fn argmax_is_first_maximum() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, -1.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 0.0, 1.0]), 2);
        assert_eq!(argmax(&[-2.0]), 0);
    }
}
