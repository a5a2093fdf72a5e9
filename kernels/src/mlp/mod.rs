//! The end-to-end example's data: the MLC course's FashionMNIST MLP.
//!
//! The model (MLC course, "End to End Model Execution") is
//!
//! ```text
//! logits = relu(x · W0ᵀ + b0) · W1ᵀ + b1      x: 1x784, W0: 128x784, W1: 10x128
//! ```
//!
//! with `x` a 28x28 image's pixels divided by 255 and the class the argmax of
//! the 10 logits. Everything it needs is committed under `kernels/data/`
//! (see `kernels/data/README.md` for provenance, licences and sha256 sums):
//!
//! - `fashion_mnist/t10k-{images-idx3,labels-idx1}-ubyte`: the first 6,978
//!   FashionMNIST test images and their labels ([`load_test_set`]);
//! - `mlp_params/{w0,b0,w1,b1}.f32` and `params.json`: the pretrained
//!   parameters, checked against the manifest's shapes and sha256
//!   ([`load_pretrained_params`]);
//! - `mlp_params/reference/`: numpy's predictions for the 6,978 images
//!   ([`reference_predictions`]) and the logits of the first 8
//!   ([`load_numpy_reference`]).
//!
//! [`reference_forward`] is a plain-Rust forward pass, the oracle generated
//! kernels are checked against; [`linear1_reference`] is the second layer
//! on its own, the chapter's external `env.linear`.
//!
//! ```no_run
//! use kernels::mlp;
//!
//! let test = mlp::load_test_set()?;
//! let params = mlp::load_pretrained_params()?;
//! let x = mlp::image_to_input(test.images.image(0));
//! let logits = mlp::reference_forward(&params, &x);
//! let class = mlp::argmax(&logits);
//! println!("{} (label {})", mlp::CLASS_NAMES[class], mlp::CLASS_NAMES[test.labels[0] as usize]);
//! # Ok::<(), mlp::DataError>(())
//! ```

use std::path::PathBuf;

mod error;
mod idx;
mod params;
mod reference;

pub use error::DataError;
pub use idx::{load_dataset, load_images, load_labels, load_test_set, Dataset, Images, IMAGES_MAGIC, LABELS_MAGIC};
pub use params::{load_params, load_pretrained_params, sha256_hex, MlpParams};
pub use reference::{
    argmax, image_to_input, linear1_reference, linear_reference, load_numpy_reference, reference_forward,
    reference_predict, reference_predictions, relu_reference, NumpyReference, ReferenceLogits,
};

/// Rows of a FashionMNIST image.
pub const IMAGE_ROWS: usize = 28;
/// Columns of a FashionMNIST image.
pub const IMAGE_COLS: usize = 28;
/// The MLP's input width: one image, row-major (784).
pub const INPUT: usize = IMAGE_ROWS * IMAGE_COLS;
/// The MLP's hidden width (128).
pub const HIDDEN: usize = 128;
/// The number of classes, the MLP's output width (10).
pub const NUM_CLASSES: usize = 10;

/// FashionMNIST's class names, by class index.
pub const CLASS_NAMES: [&str; NUM_CLASSES] =
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

/// Number of committed test images (the first 6,978 of FashionMNIST's
/// 10,000; see `kernels/data/README.md` for why).
pub const NUM_TEST_IMAGES: usize = 6978;

/// The folder holding the committed data, `kernels/data` in the source
/// tree (found through `CARGO_MANIFEST_DIR` at compile time, so tests and
/// examples find it in a fresh clone).
pub fn data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
}

/// `data/fashion_mnist/t10k-images-idx3-ubyte`.
pub fn test_images_path() -> PathBuf {
    data_dir().join("fashion_mnist/t10k-images-idx3-ubyte")
}

/// `data/fashion_mnist/t10k-labels-idx1-ubyte`.
pub fn test_labels_path() -> PathBuf {
    data_dir().join("fashion_mnist/t10k-labels-idx1-ubyte")
}

/// `data/mlp_params`, the folder of `params.json` and the tensors.
pub fn params_dir() -> PathBuf {
    data_dir().join("mlp_params")
}

/// `data/mlp_params/reference/numpy_predictions.u8`.
pub fn reference_predictions_path() -> PathBuf {
    params_dir().join("reference/numpy_predictions.u8")
}

/// `data/mlp_params/reference/numpy_reference.json`.
pub fn numpy_reference_path() -> PathBuf {
    params_dir().join("reference/numpy_reference.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_point_into_the_crate() {
        let dir = data_dir();
        assert!(dir.ends_with("kernels/data"), "{}", dir.display());
        assert!(dir.join("README.md").is_file());
        for p in [
            test_images_path(),
            test_labels_path(),
            params_dir().join("params.json"),
            reference_predictions_path(),
            numpy_reference_path(),
        ] {
            assert!(p.is_file(), "{} is missing", p.display());
        }
    }

    #[test]
    fn shapes() {
        assert_eq!(INPUT, 784);
        assert_eq!(CLASS_NAMES[9], "Ankle boot");
        assert_eq!(CLASS_NAMES.len(), NUM_CLASSES);
    }
}
