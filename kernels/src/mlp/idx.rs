//! IDX files: the FashionMNIST images (IDX3, `u8`) and labels (IDX1, `u8`).
//!
//! Layout (all header integers are big-endian `u32`):
//! - images: magic `0x00000803`, count N, rows, cols, then N*rows*cols pixels,
//!   image after image, each row-major;
//! - labels: magic `0x00000801`, count N, then N class indices.
//!
//! Files are read whole (the images are 5.5 MB) and must be exactly as long
//! as their header says: a short file is reported as truncated, a long one as
//! having trailing bytes.

use std::path::{Path, PathBuf};

use super::error::{read_file, DataError};
use super::{IMAGE_COLS, IMAGE_ROWS, NUM_CLASSES};

/// Magic number of an IDX3 file of `u8` (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX1 file of `u8` (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// A set of grey-scale images, as stored in an IDX3 file.
#[derive(Clone, PartialEq, Eq)]
pub struct Images {
    /// Number of images.
    pub count: usize,
    /// Rows of each image (28).
    pub rows: usize,
    /// Columns of each image (28).
    pub cols: usize,
    /// `count * rows * cols` pixels, image after image, each row-major;
    /// 0 is the background, 255 full intensity.
    pub pixels: Vec<u8>,
}

impl Images {
    /// Pixels in one image (`rows * cols`).
    pub fn image_len(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `i`, row-major. Panics if `i >= count`.
    pub fn image(&self, i: usize) -> &[u8] {
        assert!(i < self.count, "image {i} of {}", self.count);
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// All images in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.pixels.chunks_exact(self.image_len().max(1))
    }
}

impl std::fmt::Debug for Images {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the 5 million pixels.
        f.debug_struct("Images")
            .field("count", &self.count)
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("pixels", &format_args!("[{} bytes]", self.pixels.len()))
            .finish()
    }
}

/// Images and their labels, one to one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dataset {
    /// The images.
    pub images: Images,
    /// One class index (0..=9) per image.
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Number of (image, label) pairs.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

fn be_u32(bytes: &[u8], offset: usize) -> u32 {
    u32::from_be_bytes(bytes[offset..offset + 4].try_into().unwrap())
}

/// Checks the header length and the magic number; returns the header's
/// dimensions (count first).
fn parse_header(path: &Path, bytes: &[u8], magic: u32, ndims: usize, what: &str) -> Result<Vec<usize>, DataError> {
    let header_len = 4 + 4 * ndims;
    // A file shorter than 4 bytes cannot even hold a magic number: report it
    // as truncated. Otherwise check the magic first, so that a wrong kind of
    // file (e.g. a .gz) is named as such rather than as "truncated".
    if bytes.len() >= 4 {
        let found = be_u32(bytes, 0);
        if found != magic {
            return Err(DataError::BadMagic { path: path.to_path_buf(), found, expected: magic });
        }
    }
    if bytes.len() < header_len {
        return Err(DataError::WrongSize {
            path: path.to_path_buf(),
            what: format!("the {header_len}-byte header of an {what} file"),
            expected: header_len as u64,
            actual: bytes.len() as u64,
        });
    }
    Ok((0..ndims).map(|d| be_u32(bytes, 4 + 4 * d) as usize).collect())
}

fn check_len(path: &Path, bytes: &[u8], expected: u64, what: String) -> Result<(), DataError> {
    if bytes.len() as u64 != expected {
        return Err(DataError::WrongSize { path: path.to_path_buf(), what, expected, actual: bytes.len() as u64 });
    }
    Ok(())
}

/// Loads an IDX3 file of `u8` images of 28x28 pixels.
///
/// Errors: the file cannot be read, its magic number is not `0x00000803`,
/// its images are not 28x28, or it is not exactly `16 + count*28*28` bytes
/// long (truncated or trailing bytes).
pub fn load_images(path: impl AsRef<Path>) -> Result<Images, DataError> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    parse_images(path, bytes)
}

fn parse_images(path: &Path, mut bytes: Vec<u8>) -> Result<Images, DataError> {
    let dims = parse_header(path, &bytes, IMAGES_MAGIC, 3, "IDX3 image")?;
    let (count, rows, cols) = (dims[0], dims[1], dims[2]);
    if (rows, cols) != (IMAGE_ROWS, IMAGE_COLS) {
        return Err(DataError::WrongDims {
            path: path.to_path_buf(),
            found: (rows, cols),
            expected: (IMAGE_ROWS, IMAGE_COLS),
        });
    }
    // u32 * 784 cannot overflow u64.
    let expected = 16 + count as u64 * (rows * cols) as u64;
    check_len(path, &bytes, expected, format!("a 16-byte header and {count} images of {rows}x{cols} pixels"))?;
    bytes.drain(..16);
    Ok(Images { count, rows, cols, pixels: bytes })
}

/// Loads an IDX1 file of `u8` labels, each a class index 0..=9.
///
/// Errors: the file cannot be read, its magic number is not `0x00000801`, it
/// is not exactly `8 + count` bytes long, or a label is 10 or more.
pub fn load_labels(path: impl AsRef<Path>) -> Result<Vec<u8>, DataError> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    parse_labels(path, bytes)
}

fn parse_labels(path: &Path, mut bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    let count = parse_header(path, &bytes, LABELS_MAGIC, 1, "IDX1 label")?[0];
    check_len(path, &bytes, 8 + count as u64, format!("an 8-byte header and {count} labels"))?;
    bytes.drain(..8);
    check_classes(path, &bytes)?;
    Ok(bytes)
}

/// Checks that every byte is a class index.
pub(crate) fn check_classes(path: &Path, classes: &[u8]) -> Result<(), DataError> {
    match classes.iter().position(|&c| usize::from(c) >= NUM_CLASSES) {
        Some(index) => Err(DataError::BadClass { path: path.to_path_buf(), index, value: classes[index] }),
        None => Ok(()),
    }
}

/// Loads images and labels and checks that they match one to one.
pub fn load_dataset(images_path: impl AsRef<Path>, labels_path: impl AsRef<Path>) -> Result<Dataset, DataError> {
    let (images_path, labels_path) = (images_path.as_ref(), labels_path.as_ref());
    let images = load_images(images_path)?;
    let labels = load_labels(labels_path)?;
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images_path: PathBuf::from(images_path),
            images: images.count,
            labels_path: PathBuf::from(labels_path),
            labels: labels.len(),
        });
    }
    Ok(Dataset { images, labels })
}

/// The committed FashionMNIST test images and labels
/// ([`test_images_path`](super::test_images_path),
/// [`test_labels_path`](super::test_labels_path)): 6,978 images of 28x28.
pub fn load_test_set() -> Result<Dataset, DataError> {
    load_dataset(super::test_images_path(), super::test_labels_path())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(magic: u32, dims: &[u32]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn parses_small_files() {
        let mut bytes = header(IMAGES_MAGIC, &[2, 28, 28]);
        bytes.extend((0..2 * 784).map(|i| (i % 251) as u8));
        let images = parse_images(Path::new("imgs"), bytes).unwrap();
        assert_eq!((images.count, images.rows, images.cols), (2, 28, 28));
        assert_eq!(images.image(1)[0], (784 % 251) as u8);
        assert_eq!(images.iter().count(), 2);
        assert_eq!(format!("{images:?}"), "Images { count: 2, rows: 28, cols: 28, pixels: [1568 bytes] }");

        let mut bytes = header(LABELS_MAGIC, &[3]);
        bytes.extend([9, 0, 4]);
        assert_eq!(parse_labels(Path::new("l"), bytes).unwrap(), vec![9, 0, 4]);

        let empty = parse_labels(Path::new("l"), header(LABELS_MAGIC, &[0])).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn rejects_short_headers_and_bad_classes() {
        let e = parse_images(Path::new("imgs"), vec![0, 0]).unwrap_err();
        assert!(matches!(e, DataError::WrongSize { expected: 16, actual: 2, .. }), "{e}");
        let e = parse_images(Path::new("imgs"), header(IMAGES_MAGIC, &[1, 28])).unwrap_err();
        assert!(matches!(e, DataError::WrongSize { expected: 16, actual: 12, .. }), "{e}");
        assert!(e.to_string().contains("16-byte header of an IDX3 image file"), "{e}");

        let mut bytes = header(LABELS_MAGIC, &[3]);
        bytes.extend([1, 10, 2]);
        let e = parse_labels(Path::new("l"), bytes).unwrap_err();
        assert!(matches!(e, DataError::BadClass { index: 1, value: 10, .. }), "{e}");
    }

    #[test]
    fn gzip_is_named_as_a_bad_magic() {
        let gz = vec![0x1f, 0x8b, 0x08, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let e = parse_images(Path::new("t.gz"), gz).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.gz: wrong magic number 0x1f8b0808, expected 0x00000803 (IDX3 u8 images); \
             this is not an uncompressed IDX file of that kind"
        );
    }

    #[test]
    fn huge_count_is_truncated_not_overflow() {
        let e = parse_images(Path::new("i"), header(IMAGES_MAGIC, &[u32::MAX, 28, 28])).unwrap_err();
        match e {
            DataError::WrongSize { expected, actual, .. } => {
                assert_eq!(expected, 16 + u64::from(u32::MAX) * 784);
                assert_eq!(actual, 16);
            }
            other => panic!("{other}"),
        }
    }
}
