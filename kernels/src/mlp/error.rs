//! [`DataError`]: everything that can go wrong while loading the MLP's data.
//!
//! Every variant names the file it is about, and says what was expected and
//! what was found, so that a message alone tells which file to look at.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// An error loading the FashionMNIST images and labels, the MLP parameters
/// or the numpy reference files.
#[derive(Debug)]
pub enum DataError {
    /// The file could not be read (missing, unreadable, ...).
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// An IDX file whose magic number is not the expected one (for example a
    /// label file given where an image file was expected, or a gzip file).
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The big-endian u32 at offset 0.
        found: u32,
        /// The magic number of the expected kind of file.
        expected: u32,
    },
    /// A file whose length is not the one its header (or manifest) implies:
    /// truncated if `actual < expected`, with trailing bytes otherwise.
    WrongSize {
        /// The file.
        path: PathBuf,
        /// What the expected length is made of, e.g. "a 16-byte header and
        /// 6978 images of 28x28 pixels".
        what: String,
        /// The expected length, in bytes.
        expected: u64,
        /// The file's actual length, in bytes.
        actual: u64,
    },
    /// An IDX3 image file whose images do not have the dimensions the model
    /// takes.
    WrongDims {
        /// The file.
        path: PathBuf,
        /// Rows and columns found in the header.
        found: (usize, usize),
        /// Rows and columns expected.
        expected: (usize, usize),
    },
    /// An image file and a label file that do not hold the same number of
    /// items.
    CountMismatch {
        /// The image file.
        images_path: PathBuf,
        /// How many images it holds.
        images: usize,
        /// The label file.
        labels_path: PathBuf,
        /// How many labels it holds.
        labels: usize,
    },
    /// A label (or a reference prediction) that is not a class index 0..=9.
    BadClass {
        /// The file.
        path: PathBuf,
        /// Index of the offending item in the file.
        index: usize,
        /// Its value.
        value: u8,
    },
    /// A JSON file (params.json, numpy_reference.json) that cannot be parsed
    /// or that says something this loader does not accept.
    Manifest {
        /// The JSON file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A tensor whose shape in the manifest is not the one the model needs.
    WrongShape {
        /// The manifest that declares the shape.
        manifest: PathBuf,
        /// The tensor's name (w0, b0, w1, b1).
        name: String,
        /// The shape the model needs.
        expected: Vec<usize>,
        /// The shape the manifest declares.
        found: Vec<usize>,
    },
    /// A tensor file whose sha256 is not the one in the manifest.
    Checksum {
        /// The tensor file.
        path: PathBuf,
        /// The sha256 the manifest records (lowercase hex).
        expected: String,
        /// The sha256 of the file's bytes (lowercase hex).
        actual: String,
    },
}

impl DataError {
    /// The file the error is about (for [`DataError::CountMismatch`], the
    /// label file; for [`DataError::WrongShape`], the manifest).
    pub fn path(&self) -> &Path {
        match self {
            DataError::Io { path, .. }
            | DataError::BadMagic { path, .. }
            | DataError::WrongSize { path, .. }
            | DataError::WrongDims { path, .. }
            | DataError::BadClass { path, .. }
            | DataError::Manifest { path, .. }
            | DataError::Checksum { path, .. } => path,
            DataError::CountMismatch { labels_path, .. } => labels_path,
            DataError::WrongShape { manifest, .. } => manifest,
        }
    }

    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        DataError::Io { path: path.to_path_buf(), source }
    }

    pub(crate) fn manifest(path: &Path, message: impl Into<String>) -> Self {
        DataError::Manifest { path: path.to_path_buf(), message: message.into() }
    }
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}

fn shape_str(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Io { path, source } => {
                write!(f, "{}: cannot read the file: {source}", path.display())?;
                if source.kind() == io::ErrorKind::NotFound {
                    write!(f, " (the MLP data lives in kernels/data/, see kernels/data/README.md)")?;
                }
                Ok(())
            }
            DataError::BadMagic { path, found, expected } => write!(
                f,
                "{}: wrong magic number 0x{found:08x}, expected 0x{expected:08x} ({}); \
                 this is not an uncompressed IDX file of that kind",
                path.display(),
                magic_name(*expected),
            ),
            DataError::WrongSize { path, what, expected, actual } => {
                if actual < expected {
                    write!(
                        f,
                        "{}: file is truncated: {what} needs {expected} bytes, but the file has \
                         only {actual} bytes ({} missing)",
                        path.display(),
                        expected - actual
                    )
                } else {
                    write!(
                        f,
                        "{}: file is too long: {what} needs {expected} bytes, but the file has \
                         {actual} bytes ({} trailing)",
                        path.display(),
                        actual - expected
                    )
                }
            }
            DataError::WrongDims { path, found, expected } => write!(
                f,
                "{}: images are {}x{} pixels, expected {}x{} (the MLP takes {} inputs)",
                path.display(),
                found.0,
                found.1,
                expected.0,
                expected.1,
                expected.0 * expected.1
            ),
            DataError::CountMismatch { images_path, images, labels_path, labels } => write!(
                f,
                "{} holds {images} images but {} holds {labels} labels; they must match one to one",
                images_path.display(),
                labels_path.display()
            ),
            DataError::BadClass { path, index, value } => {
                write!(f, "{}: item {index} is {value}, which is not a class index (0..=9)", path.display())
            }
            DataError::Manifest { path, message } => write!(f, "{}: {message}", path.display()),
            DataError::WrongShape { manifest, name, expected, found } => write!(
                f,
                "{}: tensor {name:?} has shape {}, but the MLP needs {}",
                manifest.display(),
                shape_str(found),
                shape_str(expected)
            ),
            DataError::Checksum { path, expected, actual } => write!(
                f,
                "{}: sha256 mismatch: the manifest says {expected}, the file's bytes hash to \
                 {actual}; the file is corrupt or not the published one",
                path.display()
            ),
        }
    }
}

fn magic_name(magic: u32) -> &'static str {
    match magic {
        super::idx::IMAGES_MAGIC => "IDX3 u8 images",
        super::idx::LABELS_MAGIC => "IDX1 u8 labels",
        _ => "IDX",
    }
}

impl std::error::Error for DataError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DataError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_both_values() {
        let e = DataError::BadMagic { path: "x/labels".into(), found: 0x801, expected: 0x803 };
        let m = e.to_string();
        assert!(m.starts_with("x/labels: wrong magic number 0x00000801"), "{m}");
        assert!(m.contains("expected 0x00000803 (IDX3 u8 images)"), "{m}");

        let e = DataError::WrongSize {
            path: "a/b".into(),
            what: "a 16-byte header and 2 images of 28x28 pixels".into(),
            expected: 1584,
            actual: 1000,
        };
        let m = e.to_string();
        assert!(m.contains("a/b: file is truncated"), "{m}");
        assert!(m.contains("needs 1584 bytes"), "{m}");
        assert!(m.contains("only 1000 bytes (584 missing)"), "{m}");

        let e = DataError::WrongSize { path: "a/b".into(), what: "w0 (128x784 f32)".into(), expected: 10, actual: 12 };
        assert!(e.to_string().contains("too long"));
        assert!(e.to_string().contains("(2 trailing)"));

        let e = DataError::WrongShape {
            manifest: "p.json".into(),
            name: "w1".into(),
            expected: vec![10, 128],
            found: vec![128, 10],
        };
        assert_eq!(e.to_string(), "p.json: tensor \"w1\" has shape [128, 10], but the MLP needs [10, 128]");
        assert_eq!(e.path(), Path::new("p.json"));
    }

    #[test]
    fn io_error_keeps_its_source() {
        let e = read_file(Path::new("/nonexistent/kiln/file")).unwrap_err();
        assert!(matches!(&e, DataError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound));
        assert!(std::error::Error::source(&e).is_some());
        let m = e.to_string();
        assert!(m.starts_with("/nonexistent/kiln/file: cannot read the file"), "{m}");
        assert!(m.contains("kernels/data/README.md"), "{m}");
    }
}
