//! The MLP's pretrained parameters: `w0.f32`, `b0.f32`, `w1.f32`, `b1.f32`,
//! checked against their manifest `params.json`.
//!
//! Each tensor file is raw `f32`, little-endian, row-major, with no header.
//! The manifest gives, for each tensor, its file, dtype, byte order, shape,
//! byte count and sha256; all of them are checked against what the model
//! needs and against the file before a single value is used.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::{read_file, DataError};
use super::{CLASS_NAMES, HIDDEN, INPUT, NUM_CLASSES};

/// The parameters of `logits = relu(x · W0ᵀ + b0) · W1ᵀ + b1`.
#[derive(Clone, PartialEq)]
pub struct MlpParams {
    /// First layer's weights, `HIDDEN x INPUT` = 128 x 784, row-major:
    /// `w0[i * 784 + j]` weighs input `j` in hidden unit `i`.
    pub w0: Vec<f32>,
    /// First layer's bias, 128.
    pub b0: Vec<f32>,
    /// Second layer's weights, `NUM_CLASSES x HIDDEN` = 10 x 128, row-major.
    pub w1: Vec<f32>,
    /// Second layer's bias, 10.
    pub b1: Vec<f32>,
}

impl fmt::Debug for MlpParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = |v: &Vec<f32>| format!("[{} f32]", v.len());
        f.debug_struct("MlpParams")
            .field("w0", &format_args!("{}", len(&self.w0)))
            .field("b0", &format_args!("{}", len(&self.b0)))
            .field("w1", &format_args!("{}", len(&self.w1)))
            .field("b1", &format_args!("{}", len(&self.b1)))
            .finish()
    }
}

/// `params.json`, as far as the loader reads it.
#[derive(Deserialize)]
struct Manifest {
    class_names: Vec<String>,
    tensors: Vec<TensorEntry>,
}

#[derive(Deserialize)]
struct TensorEntry {
    name: String,
    file: String,
    dtype: String,
    byte_order: String,
    layout: String,
    shape: Vec<usize>,
    num_bytes: u64,
    sha256: String,
}

/// The tensors the model needs, in the manifest's order, with their shapes.
const TENSORS: [(&str, &[usize]); 4] =
    [("w0", &[HIDDEN, INPUT]), ("b0", &[HIDDEN]), ("w1", &[NUM_CLASSES, HIDDEN]), ("b1", &[NUM_CLASSES])];

/// Loads the four tensors from `dir`, as described by `dir/params.json`.
///
/// Errors ([`DataError`], naming the file): `params.json` or a tensor file
/// is missing or unreadable; the manifest is not valid JSON, lacks a tensor,
/// lists an unknown or duplicate one, gives a dtype other than `f32`, a byte
/// order other than little-endian, a layout other than row-major, or class
/// names other than [`CLASS_NAMES`]; a shape is not the model's
/// ([`DataError::WrongShape`]); a file's length is not the manifest's
/// `num_bytes` ([`DataError::WrongSize`]); a file's sha256 is not the
/// manifest's ([`DataError::Checksum`]).
pub fn load_params(dir: impl AsRef<Path>) -> Result<MlpParams, DataError> {
    let dir = dir.as_ref();
    let manifest_path = dir.join("params.json");
    let text = read_file(&manifest_path)?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|e| DataError::manifest(&manifest_path, format!("not a valid params manifest: {e}")))?;

    if manifest.class_names != CLASS_NAMES {
        return Err(DataError::manifest(
            &manifest_path,
            format!("class_names are {:?}, expected {:?}", manifest.class_names, CLASS_NAMES),
        ));
    }
    for entry in &manifest.tensors {
        let known = TENSORS.iter().any(|(name, _)| *name == entry.name);
        let copies = manifest.tensors.iter().filter(|t| t.name == entry.name).count();
        if !known || copies > 1 {
            let problem = if known { "is listed twice" } else { "is not one of w0, b0, w1, b1" };
            return Err(DataError::manifest(&manifest_path, format!("tensor {:?} {problem}", entry.name)));
        }
    }

    let mut loaded = Vec::with_capacity(TENSORS.len());
    for (name, shape) in TENSORS {
        let entry = manifest
            .tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| DataError::manifest(&manifest_path, format!("no tensor named {name:?}")))?;
        loaded.push(load_tensor(&manifest_path, dir, entry, shape)?);
    }
    let mut loaded = loaded.into_iter();
    let mut next = || loaded.next().unwrap();
    Ok(MlpParams { w0: next(), b0: next(), w1: next(), b1: next() })
}

/// The committed pretrained parameters, from [`params_dir`](super::params_dir).
pub fn load_pretrained_params() -> Result<MlpParams, DataError> {
    load_params(super::params_dir())
}

fn load_tensor(manifest_path: &Path, dir: &Path, entry: &TensorEntry, shape: &[usize]) -> Result<Vec<f32>, DataError> {
    let name = &entry.name;
    let bad = |what: String| DataError::manifest(manifest_path, format!("tensor {name:?}: {what}"));
    if entry.dtype != "f32" {
        return Err(bad(format!("dtype is {:?}, only \"f32\" is supported", entry.dtype)));
    }
    if entry.byte_order != "little" {
        return Err(bad(format!("byte_order is {:?}, only \"little\" is supported", entry.byte_order)));
    }
    if !entry.layout.starts_with("row-major") {
        return Err(bad(format!("layout is {:?}, only row-major (C order) is supported", entry.layout)));
    }
    if entry.shape != shape {
        return Err(DataError::WrongShape {
            manifest: manifest_path.to_path_buf(),
            name: name.clone(),
            expected: shape.to_vec(),
            found: entry.shape.clone(),
        });
    }
    let elements: usize = shape.iter().product();
    let byte_len = elements as u64 * 4;
    if entry.num_bytes != byte_len {
        return Err(bad(format!("num_bytes is {}, but {elements} f32 values take {byte_len} bytes", entry.num_bytes)));
    }
    let expected_sha = entry.sha256.to_ascii_lowercase();
    if expected_sha.len() != 64 || !expected_sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad(format!("sha256 {:?} is not 64 hex digits", entry.sha256)));
    }
    let file = Path::new(&entry.file);
    if file.is_absolute() || file.components().count() != 1 {
        return Err(bad(format!("file {:?} must be a plain file name beside params.json", entry.file)));
    }

    let path: PathBuf = dir.join(file);
    let bytes = read_file(&path)?;
    if bytes.len() as u64 != byte_len {
        return Err(DataError::WrongSize {
            path,
            what: format!("tensor {name:?} of shape {shape:?} f32 (per params.json)"),
            expected: byte_len,
            actual: bytes.len() as u64,
        });
    }
    let actual_sha = sha256_hex(&bytes);
    if actual_sha != expected_sha {
        return Err(DataError::Checksum { path, expected: expected_sha, actual: actual_sha });
    }
    Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// The sha256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut s, b| {
        write!(s, "{b:02x}").unwrap();
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_strings() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn debug_does_not_dump_weights() {
        let p = MlpParams {
            w0: vec![0.0; HIDDEN * INPUT],
            b0: vec![0.0; HIDDEN],
            w1: vec![0.0; NUM_CLASSES * HIDDEN],
            b1: vec![0.0; NUM_CLASSES],
        };
        assert_eq!(format!("{p:?}"), "MlpParams { w0: [100352 f32], b0: [128 f32], w1: [1280 f32], b1: [10 f32] }");
    }
}
