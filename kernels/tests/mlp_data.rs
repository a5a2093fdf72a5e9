//! The committed FashionMNIST MLP data: loading it, every way loading can
//! fail, and the plain-Rust forward pass against numpy's reference.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use kernels::mlp::{self, DataError, MlpParams};

/// A temporary copy of `kernels/data`'s files that a test may corrupt.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let scratch = Scratch { dir: tempfile::tempdir().expect("temp dir") };
        fs::create_dir(scratch.params()).unwrap();
        for name in ["params.json", "w0.f32", "b0.f32", "w1.f32", "b1.f32"] {
            fs::copy(mlp::params_dir().join(name), scratch.params().join(name)).unwrap();
        }
        scratch
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn params(&self) -> PathBuf {
        self.path("mlp_params")
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(name);
        fs::write(&p, bytes).unwrap();
        p
    }

    /// Rewrites params.json through `edit`.
    fn edit_manifest(&self, edit: impl FnOnce(&mut serde_json::Value)) {
        let p = self.params().join("params.json");
        let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
        edit(&mut v);
        fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }
}

fn real_images() -> Vec<u8> {
    fs::read(mlp::test_images_path()).unwrap()
}

fn real_labels() -> Vec<u8> {
    fs::read(mlp::test_labels_path()).unwrap()
}

fn msg(e: &DataError) -> String {
    e.to_string()
}

// ---------------------------------------------------------------- IDX errors

#[test]
fn images_with_bad_magic() {
    let s = Scratch::new();
    let mut bytes = real_images();
    bytes[3] = 0x01; // 0x00000801: a label file's magic
    let p = s.write("images", &bytes);
    let e = mlp::load_images(&p).unwrap_err();
    assert!(matches!(e, DataError::BadMagic { found: 0x801, expected: 0x803, .. }), "{e:?}");
    assert_eq!(e.path(), p);
    let m = msg(&e);
    assert!(m.contains(&p.display().to_string()), "{m}");
    assert!(m.contains("wrong magic number 0x00000801, expected 0x00000803"), "{m}");

    // A label file where images are expected, and the reverse.
    let e = mlp::load_images(mlp::test_labels_path()).unwrap_err();
    assert!(matches!(e, DataError::BadMagic { found: 0x801, .. }), "{e}");
    let e = mlp::load_labels(mlp::test_images_path()).unwrap_err();
    assert!(matches!(e, DataError::BadMagic { found: 0x803, expected: 0x801, .. }), "{e}");
    assert!(msg(&e).contains("(IDX1 u8 labels)"), "{e}");
}

#[test]
fn truncated_images_and_labels() {
    let s = Scratch::new();
    let bytes = real_images();
    let p = s.write("images", &bytes[..bytes.len() - 100]);
    let e = mlp::load_images(&p).unwrap_err();
    match &e {
        DataError::WrongSize { path, expected, actual, .. } => {
            assert_eq!(path, &p);
            assert_eq!(*expected, 5_470_768);
            assert_eq!(*actual, 5_470_668);
        }
        other => panic!("{other:?}"),
    }
    let m = msg(&e);
    assert!(m.contains("file is truncated"), "{m}");
    assert!(m.contains("6978 images of 28x28 pixels needs 5470768 bytes"), "{m}");
    assert!(m.contains("only 5470668 bytes (100 missing)"), "{m}");

    // Trailing bytes are reported too.
    let mut long = bytes.clone();
    long.push(0);
    let p = s.write("images_long", &long);
    let e = mlp::load_images(&p).unwrap_err();
    assert!(msg(&e).contains("too long"), "{e}");

    // Header cut short.
    let p = s.write("images_hdr", &bytes[..10]);
    let e = mlp::load_images(&p).unwrap_err();
    assert!(matches!(e, DataError::WrongSize { expected: 16, actual: 10, .. }), "{e}");

    let labels = real_labels();
    let p = s.write("labels", &labels[..labels.len() - 1]);
    let e = mlp::load_labels(&p).unwrap_err();
    assert!(matches!(e, DataError::WrongSize { expected: 6986, actual: 6985, .. }), "{e}");
    assert!(msg(&e).contains("6978 labels"), "{e}");
}

#[test]
fn images_with_wrong_dims() {
    let s = Scratch::new();
    let mut bytes = real_images();
    bytes[8..12].copy_from_slice(&32u32.to_be_bytes());
    let p = s.write("images", &bytes);
    let e = mlp::load_images(&p).unwrap_err();
    assert!(matches!(e, DataError::WrongDims { found: (32, 28), expected: (28, 28), .. }), "{e:?}");
    assert!(msg(&e).contains("images are 32x28 pixels, expected 28x28"), "{e}");
}

#[test]
fn count_mismatch_between_images_and_labels() {
    let s = Scratch::new();
    // 6977 labels: a consistent file, one label short of the images.
    let mut labels = real_labels();
    labels.pop();
    labels[4..8].copy_from_slice(&6977u32.to_be_bytes());
    let p = s.write("labels", &labels);
    assert_eq!(mlp::load_labels(&p).unwrap().len(), 6977);
    let e = mlp::load_dataset(mlp::test_images_path(), &p).unwrap_err();
    assert!(matches!(e, DataError::CountMismatch { images: 6978, labels: 6977, .. }), "{e:?}");
    let m = msg(&e);
    assert!(m.contains("holds 6978 images"), "{m}");
    assert!(m.contains(&format!("{} holds 6977 labels", p.display())), "{m}");
}

#[test]
fn label_out_of_range() {
    let s = Scratch::new();
    let mut labels = real_labels();
    labels[8 + 5] = 12;
    let p = s.write("labels", &labels);
    let e = mlp::load_labels(&p).unwrap_err();
    assert!(matches!(e, DataError::BadClass { index: 5, value: 12, .. }), "{e}");
}

#[test]
fn missing_files() {
    let s = Scratch::new();
    let e = mlp::load_images(s.path("nope")).unwrap_err();
    assert!(matches!(&e, DataError::Io { path, .. } if path.ends_with("nope")), "{e}");
    assert!(msg(&e).contains("cannot read the file"), "{e}");

    fs::remove_file(s.params().join("w1.f32")).unwrap();
    let e = mlp::load_params(s.params()).unwrap_err();
    assert!(matches!(&e, DataError::Io { path, .. } if path.ends_with("w1.f32")), "{e}");

    let e = mlp::load_params(s.path("no_such_dir")).unwrap_err();
    assert!(matches!(&e, DataError::Io { path, .. } if path.ends_with("params.json")), "{e}");
}

// ------------------------------------------------------------- param errors

#[test]
fn params_copy_loads() {
    let s = Scratch::new();
    let p = mlp::load_params(s.params()).unwrap();
    assert_eq!(p, mlp::load_pretrained_params().unwrap());
}

#[test]
fn param_with_wrong_checksum() {
    let s = Scratch::new();
    let path = s.params().join("b0.f32");
    let mut bytes = fs::read(&path).unwrap();
    bytes[7] ^= 0x01; // one bit of b0[1]: the same size, a different hash
    fs::write(&path, &bytes).unwrap();
    let e = mlp::load_params(s.params()).unwrap_err();
    match &e {
        DataError::Checksum { path: p, expected, actual } => {
            assert_eq!(p, &path);
            assert_eq!(expected, "a22591e20c504e1d51dc9cb349c65b9f9920a1c7d032b8b7f4a36a19d7545ae3");
            assert_eq!(actual, &mlp::sha256_hex(&bytes));
        }
        other => panic!("{other:?}"),
    }
    assert!(msg(&e).contains("b0.f32: sha256 mismatch"), "{e}");
}

#[test]
fn param_with_wrong_size() {
    let s = Scratch::new();
    let path = s.params().join("w0.f32");
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
    let e = mlp::load_params(s.params()).unwrap_err();
    assert!(
        matches!(&e, DataError::WrongSize { path: p, expected: 401_408, actual: 401_404, .. } if p == &path),
        "{e:?}"
    );
    let m = msg(&e);
    assert!(m.contains("w0.f32: file is truncated"), "{m}");
    assert!(m.contains("tensor \"w0\" of shape [128, 784]"), "{m}");

    fs::write(&path, [bytes.as_slice(), &[0; 8]].concat()).unwrap();
    let e = mlp::load_params(s.params()).unwrap_err();
    assert!(msg(&e).contains("too long"), "{e}");
}

#[test]
fn param_with_wrong_shape() {
    let s = Scratch::new();
    s.edit_manifest(|v| v["tensors"][2]["shape"] = serde_json::json!([128, 10]));
    let e = mlp::load_params(s.params()).unwrap_err();
    match &e {
        DataError::WrongShape { manifest, name, expected, found } => {
            assert!(manifest.ends_with("mlp_params/params.json"));
            assert_eq!(name, "w1");
            assert_eq!(expected, &[10, 128]);
            assert_eq!(found, &[128, 10]);
        }
        other => panic!("{other:?}"),
    }
    assert!(msg(&e).contains("tensor \"w1\" has shape [128, 10], but the MLP needs [10, 128]"));
}

/// A change to params.json.
type ManifestEdit = fn(&mut serde_json::Value);

#[test]
fn manifest_problems() {
    let cases: Vec<(ManifestEdit, &str)> = vec![
        ((|v| v["tensors"][0]["dtype"] = "f64".into()), "tensor \"w0\": dtype is \"f64\", only \"f32\" is supported"),
        ((|v| v["tensors"][1]["byte_order"] = "big".into()), "tensor \"b0\": byte_order is \"big\""),
        (
            (|v| v["tensors"][3]["num_bytes"] = 44.into()),
            "tensor \"b1\": num_bytes is 44, but 10 f32 values take 40 bytes",
        ),
        (
            (|v| {
                v["tensors"].as_array_mut().unwrap().remove(3);
            }),
            "no tensor named \"b1\"",
        ),
        ((|v| v["tensors"][3]["name"] = "b2".into()), "tensor \"b2\" is not one of w0, b0, w1, b1"),
        ((|v| v["tensors"][3]["file"] = "../b1.f32".into()), "must be a plain file name"),
        ((|v| v["class_names"][0] = "Top".into()), "class_names are"),
        (
            (|v| {
                v.as_object_mut().unwrap().remove("tensors");
            }),
            "not a valid params manifest: missing field `tensors`",
        ),
    ];
    for (edit, expected) in cases {
        let s = Scratch::new();
        s.edit_manifest(edit);
        let e = mlp::load_params(s.params()).unwrap_err();
        assert!(matches!(e, DataError::Manifest { .. }), "{e:?}");
        assert!(e.path().ends_with("params.json"));
        assert!(msg(&e).contains(expected), "{e} lacks {expected:?}");
    }

    let s = Scratch::new();
    fs::write(s.params().join("params.json"), b"{ not json").unwrap();
    let e = mlp::load_params(s.params()).unwrap_err();
    assert!(msg(&e).contains("params.json: not a valid params manifest"), "{e}");
}

#[test]
fn reference_predictions_reject_bad_bytes() {
    let s = Scratch::new();
    let p = s.write("preds", &[1, 2, 200]);
    let e = mlp::reference_predictions(&p).unwrap_err();
    assert!(matches!(e, DataError::BadClass { index: 2, value: 200, .. }), "{e}");
}

// ------------------------------------------------------------ the real data

#[test]
fn real_test_set() {
    let test = mlp::load_test_set().unwrap();
    assert_eq!(test.len(), mlp::NUM_TEST_IMAGES);
    assert_eq!(test.images.count, 6978);
    assert_eq!((test.images.rows, test.images.cols), (28, 28));
    assert_eq!(test.images.pixels.len(), 6978 * 784);
    assert_eq!(test.labels[..10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    assert_eq!(mlp::CLASS_NAMES[test.labels[0] as usize], "Ankle boot");
    // Image 0 (an ankle boot) has a blank top row and ink in the middle.
    let img0 = test.images.image(0);
    assert!(img0[..28].iter().all(|&p| p == 0));
    assert!(img0.iter().any(|&p| p > 200));
    // Every class occurs.
    let mut counts = [0usize; 10];
    for &l in &test.labels {
        counts[l as usize] += 1;
    }
    assert!(counts.iter().all(|&c| c > 600), "{counts:?}");
}

#[test]
fn real_params() {
    let p: MlpParams = mlp::load_pretrained_params().unwrap();
    assert_eq!(p.w0.len(), 128 * 784);
    assert_eq!(p.b0.len(), 128);
    assert_eq!(p.w1.len(), 10 * 128);
    assert_eq!(p.b1.len(), 10);
    for v in [&p.w0, &p.b0, &p.w1, &p.b1] {
        assert!(v.iter().all(|x| x.is_finite()));
        assert!(v.iter().any(|&x| x != 0.0));
    }
}

fn check_logits(params: &MlpParams, test: &mlp::Dataset, reference: &Path) {
    let numpy = mlp::load_numpy_reference(reference).unwrap();
    assert_eq!(numpy.num_images, 6978);
    assert_eq!(numpy.first.len(), 8);
    let mut worst = 0.0f64;
    for r in &numpy.first {
        assert_eq!(test.labels[r.index], r.label);
        let logits = mlp::reference_forward(params, &mlp::image_to_input(test.images.image(r.index)));
        assert_eq!(mlp::argmax(&logits), r.pred as usize);
        for (&ours, &theirs) in logits.iter().zip(&r.logits_f64) {
            let d = (f64::from(ours) - theirs).abs();
            worst = worst.max(d);
            assert!(d < 1e-4, "image {}: {ours} vs numpy {theirs}", r.index);
        }
    }
    eprintln!("first 8 images: largest |logit - numpy f64 logit| = {worst:.2e}");
}

#[test]
fn reference_forward_reproduces_numpy() {
    let test = mlp::load_test_set().unwrap();
    let params = mlp::load_pretrained_params().unwrap();
    check_logits(&params, &test, &mlp::numpy_reference_path());

    let expected = mlp::reference_predictions(mlp::reference_predictions_path()).unwrap();
    assert_eq!(expected.len(), test.len());

    let start = Instant::now();
    let predictions: Vec<u8> = test.images.iter().map(|img| mlp::reference_predict(&params, img)).collect();
    let elapsed = start.elapsed();
    eprintln!("reference forward pass over {} images: {elapsed:.2?}", test.len());

    let differing: Vec<usize> = (0..test.len()).filter(|&i| predictions[i] != expected[i]).collect();
    assert!(
        differing.is_empty(),
        "{} predictions differ from numpy's, first at {:?}",
        differing.len(),
        &differing[..differing.len().min(10)]
    );
    let correct = predictions.iter().zip(&test.labels).filter(|(p, l)| p == l).count();
    assert_eq!(correct, 6014);
    let numpy = mlp::load_numpy_reference(mlp::numpy_reference_path()).unwrap();
    assert_eq!(correct, numpy.correct_f32);
    assert_eq!(predictions[..10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
}

#[test]
fn linear1_is_the_second_layer() {
    let test = mlp::load_test_set().unwrap();
    let params = mlp::load_pretrained_params().unwrap();
    let x = mlp::image_to_input(test.images.image(3));
    // First layer by hand, then the "external" second layer.
    let mut hidden = [0.0f32; mlp::HIDDEN];
    mlp::linear_reference(&x, &params.w0, &params.b0, &mut hidden);
    let lin0 = hidden;
    mlp::relu_reference(&lin0, &mut hidden);
    let mut out = [0.0f32; mlp::NUM_CLASSES];
    mlp::linear1_reference(&hidden, &params.w1, &params.b1, &mut out);
    assert_eq!(out, mlp::reference_forward(&params, &x));
    assert_eq!(mlp::argmax(&out), 1); // Trouser
}
