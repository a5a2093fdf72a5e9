//! End to end: the FashionMNIST MLP with kiln kernels for layer 0 and the
//! activation (`linear0` + `relu`, and the batched `linear` + `relu`) and the
//! plain-Rust `linear1_reference` for layer 1 predicts exactly what numpy
//! predicts for all 6,978 test images (accuracy 6014/6978 = 86.19%), on every
//! ISA this CPU runs, for the committed traces (`kernels::*`) and the default
//! schedule (`default::*` of the root build script).
//!
//! The logits are not bit-identical to numpy's (kiln's FMAs and vector partial
//! sums reassociate the dot products), but the smallest gap between the top
//! two logits over the test set is 5.1e-3, far above that difference.

use kernels::mlp::{self, MlpParams, HIDDEN, INPUT, NUM_CLASSES};
use kiln::Isa;

include!(concat!(env!("OUT_DIR"), "/variants.rs"));

const BATCH: usize = 64;
const EXPECTED_CORRECT: usize = 6014;

type LinearOn = fn(Isa, &[f32], &[f32], &[f32], &mut [f32]) -> Result<(), kiln::Error>;
type ReluOn = fn(Isa, &[f32], &mut [f32]) -> Result<(), kiln::Error>;

struct Build {
    name: &'static str,
    linear0: LinearOn,
    relu: ReluOn,
    linear: LinearOn,
}

const BUILDS: [Build; 2] = [
    Build {
        name: "kernels (committed traces)",
        linear0: kernels::try_linear0_on,
        relu: kernels::try_relu_on,
        linear: kernels::try_linear_on,
    },
    Build {
        name: "default schedule",
        linear0: default::try_linear0_on,
        relu: default::try_relu_on,
        linear: default::try_linear_on,
    },
];

struct Data {
    inputs: Vec<f32>,
    labels: Vec<u8>,
    numpy: Vec<u8>,
    params: MlpParams,
}

fn data() -> Data {
    let test = mlp::load_test_set().unwrap_or_else(|e| panic!("{e}"));
    let params = mlp::load_pretrained_params().unwrap_or_else(|e| panic!("{e}"));
    let numpy = mlp::reference_predictions(mlp::reference_predictions_path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(test.len(), mlp::NUM_TEST_IMAGES);
    assert_eq!(numpy.len(), test.len());
    let mut inputs = Vec::with_capacity(test.len() * INPUT);
    for img in test.images.iter() {
        inputs.extend_from_slice(&mlp::image_to_input(img));
    }
    Data { inputs, labels: test.labels, numpy, params }
}

fn isas() -> Vec<Isa> {
    [Isa::Scalar, Isa::Avx2, Isa::Avx512].into_iter().filter(|i| kiln::runtime::supported(*i)).collect()
}

/// Batch 1: `linear0` and `relu` (kiln), `linear1_reference` (plain Rust).
fn predict1(b: &Build, isa: Isa, d: &Data) -> Vec<u8> {
    let p = &d.params;
    let (mut lin0, mut hidden, mut logits) = ([0f32; HIDDEN], [0f32; HIDDEN], [0f32; NUM_CLASSES]);
    d.inputs
        .chunks_exact(INPUT)
        .map(|x| {
            (b.linear0)(isa, x, &p.w0, &p.b0, &mut lin0).unwrap();
            (b.relu)(isa, &lin0, &mut hidden).unwrap();
            mlp::linear1_reference(&hidden, &p.w1, &p.b1, &mut logits);
            mlp::argmax(&logits) as u8
        })
        .collect()
}

/// Batch 64: `linear` and `relu` per row (kiln), `linear1_reference` per
/// row; the last batch is padded with zero images.
fn predict64(b: &Build, isa: Isa, d: &Data) -> Vec<u8> {
    let p = &d.params;
    let mut batch = vec![0f32; BATCH * INPUT];
    let mut lin0 = vec![0f32; BATCH * HIDDEN];
    let mut hidden = [0f32; HIDDEN];
    let mut logits = [0f32; NUM_CLASSES];
    let mut out = Vec::new();
    for chunk in d.inputs.chunks(BATCH * INPUT) {
        batch[..chunk.len()].copy_from_slice(chunk);
        batch[chunk.len()..].fill(0.0);
        (b.linear)(isa, &batch, &p.w0, &p.b0, &mut lin0).unwrap();
        for z in lin0.chunks_exact(HIDDEN).take(chunk.len() / INPUT) {
            (b.relu)(isa, z, &mut hidden).unwrap();
            mlp::linear1_reference(&hidden, &p.w1, &p.b1, &mut logits);
            out.push(mlp::argmax(&logits) as u8);
        }
    }
    out
}

fn check(what: &str, got: &[u8], d: &Data) {
    assert_eq!(got.len(), d.numpy.len(), "{what}: number of predictions");
    let differ: Vec<usize> = (0..got.len()).filter(|&i| got[i] != d.numpy[i]).collect();
    assert!(
        differ.is_empty(),
        "{what}: {} of {} predictions differ from numpy's, first at images {:?}",
        differ.len(),
        got.len(),
        &differ[..differ.len().min(10)]
    );
    let correct = got.iter().zip(&d.labels).filter(|(p, l)| p == l).count();
    assert_eq!(correct, EXPECTED_CORRECT, "{what}: accuracy {correct}/{}", got.len());
}

#[test]
fn reference_itself_matches_numpy() {
    let d = data();
    let got: Vec<u8> =
        d.inputs.chunks_exact(INPUT).map(|x| mlp::argmax(&mlp::reference_forward(&d.params, x)) as u8).collect();
    check("plain-Rust reference", &got, &d);
}

#[test]
fn kiln_model_matches_numpy_on_every_isa() {
    let d = data();
    let isas = isas();
    assert!(isas.contains(&Isa::Scalar));
    for b in &BUILDS {
        for &isa in &isas {
            check(&format!("{} on {isa}, batch 1", b.name), &predict1(b, isa, &d), &d);
            check(&format!("{} on {isa}, batch 64", b.name), &predict64(b, isa, &d), &d);
        }
    }
    // The dispatching entry points (what the example calls) too.
    let auto = Build {
        name: "kernels, ISA picked at run time",
        linear0: |_, x, w, b, z| kernels::try_linear0(x, w, b, z),
        relu: |_, x, y| kernels::try_relu(x, y),
        linear: |_, x, w, b, z| kernels::try_linear(x, w, b, z),
    };
    check(auto.name, &predict1(&auto, Isa::Scalar, &d), &d);
    check(auto.name, &predict64(&auto, Isa::Scalar, &d), &d);
}

#[test]
fn unsupported_isa_is_an_error_not_a_wrong_answer() {
    let p = mlp::load_pretrained_params().unwrap_or_else(|e| panic!("{e}"));
    let x = vec![0f32; INPUT];
    let mut z = vec![0f32; HIDDEN];
    for isa in [Isa::Avx2, Isa::Avx512].into_iter().filter(|i| !kiln::runtime::supported(*i)) {
        assert_eq!(
            kernels::try_linear0_on(isa, &x, &p.w0, &p.b0, &mut z),
            Err(kiln::Error::UnsupportedIsa { kernel: "linear0", isa })
        );
    }
    // A wrong shape is refused with the kernel's and the buffer's names.
    let err = kernels::try_linear0(&x[..INPUT - 1], &p.w0, &p.b0, &mut z).unwrap_err();
    assert!(matches!(err, kiln::Error::Shape { kernel: "linear0", param: "x", .. }), "{err:?}");
}
