//! What generated kernels call at run time.

use std::fmt;
use std::sync::OnceLock;

/// An instruction set a kernel implementation is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust.
    Scalar,
    /// x86-64 AVX2 + FMA.
    Avx2,
    /// x86-64 AVX-512F (with AVX2 + FMA).
    Avx512,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    pub fn from_name(s: &str) -> Option<Isa> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" => Some(Isa::Scalar),
            "avx2" => Some(Isa::Avx2),
            "avx512" | "avx512f" => Some(Isa::Avx512),
            _ => None,
        }
    }
}

impl fmt::Display for Isa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a kernel call was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A slice has the wrong number of elements.
    Shape { kernel: &'static str, param: &'static str, declared: &'static str, expected: usize, actual: usize },
    /// The CPU does not support the requested ISA.
    UnsupportedIsa { kernel: &'static str, isa: Isa },
    /// The kernel was built without an implementation for the requested ISA.
    NoImplementation { kernel: &'static str, isa: Isa },
    /// A symbolic dimension cannot be read from the length of the slice
    /// passed for `param` (declared `[f32; n, ..]`, `per_row` elements per
    /// row): the length is not a multiple of `per_row`, or the number of rows
    /// is outside `min..=max`.
    Dim {
        kernel: &'static str,
        dim: &'static str,
        param: &'static str,
        declared: &'static str,
        per_row: usize,
        min: usize,
        max: usize,
        actual: usize,
    },
    /// A slice disagrees with the value of a symbolic dimension read from
    /// another parameter (`from`).
    Rows {
        kernel: &'static str,
        param: &'static str,
        declared: &'static str,
        dim: &'static str,
        value: usize,
        from: &'static str,
        expected: usize,
        actual: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape { kernel, param, declared, expected, actual } => write!(
                f,
                "{kernel}: `{param}` has {actual} elements but is declared {declared}, which needs {expected}"
            ),
            Error::UnsupportedIsa { kernel, isa } => write!(f, "{kernel}: this CPU does not support {isa}"),
            Error::NoImplementation { kernel, isa } => write!(f, "{kernel}: no {isa} implementation was built"),
            Error::Dim { kernel, dim, param, declared, per_row, min, max, actual } => {
                if !actual.is_multiple_of(*per_row) {
                    write!(
                        f,
                        "{kernel}: `{param}` has {actual} elements, not a multiple of {per_row}: it is declared \
                         {declared}, rows of {per_row}"
                    )
                } else {
                    write!(
                        f,
                        "{kernel}: `{param}` has {} rows ({actual} elements, declared {declared}), but `{dim}` must \
                         be in {min}..={max}",
                        actual / per_row
                    )
                }
            }
            Error::Rows { kernel, param, declared, dim, value, from, expected, actual } => write!(
                f,
                "{kernel}: `{param}` has {actual} elements but is declared {declared}, which needs {expected} for \
                 `{dim}` = {value} (read from the length of `{from}`)"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Checks a slice length (called by the generated safe functions).
#[inline]
pub fn check_len(
    kernel: &'static str,
    param: &'static str,
    declared: &'static str,
    actual: usize,
    expected: usize,
) -> Result<(), Error> {
    if actual == expected {
        Ok(())
    } else {
        Err(Error::Shape { kernel, param, declared, expected, actual })
    }
}

/// Reads symbolic dimension `dim` from the length of the slice passed for
/// `param` (called by the generated safe functions).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn dim_from_len(
    kernel: &'static str,
    dim: &'static str,
    param: &'static str,
    declared: &'static str,
    actual: usize,
    per_row: usize,
    min: usize,
    max: usize,
) -> Result<usize, Error> {
    let n = actual / per_row;
    if actual.is_multiple_of(per_row) && n >= min && n <= max {
        Ok(n)
    } else {
        Err(Error::Dim { kernel, dim, param, declared, per_row, min, max, actual })
    }
}

/// Checks the length of a slice with a symbolic first dimension (`value`
/// rows of `per_row`; called by the generated safe functions).
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn check_rows(
    kernel: &'static str,
    param: &'static str,
    declared: &'static str,
    dim: &'static str,
    value: usize,
    from: &'static str,
    actual: usize,
    per_row: usize,
) -> Result<(), Error> {
    let expected = value * per_row;
    if actual == expected {
        Ok(())
    } else {
        Err(Error::Rows { kernel, param, declared, dim, value, from, expected, actual })
    }
}

fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Isa::Avx512;
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Isa::Avx2;
        }
    }
    Isa::Scalar
}

/// The best ISA of this CPU (detected once).
pub fn detected() -> Isa {
    static DETECTED: OnceLock<Isa> = OnceLock::new();
    *DETECTED.get_or_init(detect)
}

/// The ISA kernels use: the detected one, lowered by `KILN_ISA=avx2|scalar`
/// if set (a higher value than the CPU has is ignored). Cached.
#[inline]
pub fn isa() -> Isa {
    static CHOSEN: OnceLock<Isa> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let cpu = detected();
        match std::env::var("KILN_ISA").ok().as_deref().and_then(Isa::from_name) {
            Some(forced) if forced <= cpu => forced,
            _ => cpu,
        }
    })
}

/// Whether this CPU can run code for `isa`.
pub fn supported(isa: Isa) -> bool {
    isa <= detected()
}

/// A raw pointer that may cross into the workers of a parallel loop. The
/// schedule checks guarantee that iterations write disjoint elements.
#[derive(Clone, Copy, Debug)]
pub struct SyncPtr<T>(*mut T);

unsafe impl<T> Send for SyncPtr<T> {}
unsafe impl<T> Sync for SyncPtr<T> {}

impl<T> SyncPtr<T> {
    #[inline(always)]
    pub fn new<P: IntoMut<T>>(p: P) -> SyncPtr<T> {
        SyncPtr(p.into_mut())
    }

    #[inline(always)]
    pub fn get<P: FromMut<T>>(self) -> P {
        P::from_mut(self.0)
    }
}

/// `*const T` or `*mut T`, for [`SyncPtr`].
pub trait IntoMut<T> {
    fn into_mut(self) -> *mut T;
}

impl<T> IntoMut<T> for *mut T {
    #[inline(always)]
    fn into_mut(self) -> *mut T {
        self
    }
}

impl<T> IntoMut<T> for *const T {
    #[inline(always)]
    fn into_mut(self) -> *mut T {
        self as *mut T
    }
}

/// `*const T` or `*mut T`, for [`SyncPtr`].
pub trait FromMut<T> {
    fn from_mut(p: *mut T) -> Self;
}

impl<T> FromMut<T> for *mut T {
    #[inline(always)]
    fn from_mut(p: *mut T) -> Self {
        p
    }
}

impl<T> FromMut<T> for *const T {
    #[inline(always)]
    fn from_mut(p: *mut T) -> Self {
        p as *const T
    }
}

/// Runs `f(0..n)` on the calling thread and kiln's pool of workers
/// ([`crate::pool`]: the caller takes part, the workers poll for a while
/// before they sleep, so that a kernel called again and again does not wait
/// for threads to wake up).
///
/// The work is handed on as a `dyn Fn` to one function compiled once in this
/// crate, not instantiated for every kernel's closure (with rayon's iterators
/// that cost each kernel, and each tuning batch, seconds of LLVM time), for
/// one indirect call per iteration of a parallel loop whose body is a block
/// of rows.
#[inline]
pub fn parallel_for<F: Fn(usize) + Sync + Send>(n: usize, f: F) {
    crate::pool::run(n, &f);
}

#[cold]
#[inline(never)]
fn out_of_bounds(buffer: &str, i: isize, len: usize) -> ! {
    panic!("kiln: access {buffer}[{i}] outside its {len} elements")
}

/// `p.offset(i)` after checking `0 <= i < len` (for accesses the compiler
/// could not prove in bounds).
///
/// # Safety
/// `p` must point to `len` valid elements.
#[inline(always)]
pub unsafe fn checked<T>(p: *const T, i: isize, len: usize, buffer: &str) -> *const T {
    if i < 0 || i as usize >= len {
        out_of_bounds(buffer, i, len)
    }
    p.offset(i)
}

/// Mutable [`checked`].
///
/// # Safety
/// `p` must point to `len` valid elements.
#[inline(always)]
pub unsafe fn checked_mut<T>(p: *mut T, i: isize, len: usize, buffer: &str) -> *mut T {
    if i < 0 || i as usize >= len {
        out_of_bounds(buffer, i, len)
    }
    p.offset(i)
}

#[cold]
#[inline(never)]
fn lanes_out_of_bounds(buffer: &str, i: isize, n: usize, len: usize) -> ! {
    panic!("kiln: access {buffer}[{i}..{i}+{n}] outside its {len} elements")
}

/// `p.offset(i)` after checking that the `n` elements `i..i + n` lie in
/// `0..len`: the lanes of a vector access (`n` is the vector's lane count,
/// or its active lanes when masked). Emitted for every vector access in the
/// bounds-checked debug mode (`CodegenOptions::check_all_accesses`).
///
/// # Safety
/// `p` must point to `len` valid elements.
#[inline(always)]
pub unsafe fn checked_lanes<T>(p: *const T, i: isize, n: usize, len: usize, buffer: &str) -> *const T {
    if i < 0 || (i as usize).checked_add(n).is_none_or(|end| end > len) {
        lanes_out_of_bounds(buffer, i, n, len)
    }
    p.offset(i)
}

/// Mutable [`checked_lanes`].
///
/// # Safety
/// `p` must point to `len` valid elements.
#[inline(always)]
pub unsafe fn checked_lanes_mut<T>(p: *mut T, i: isize, n: usize, len: usize, buffer: &str) -> *mut T {
    if i < 0 || (i as usize).checked_add(n).is_none_or(|end| end > len) {
        lanes_out_of_bounds(buffer, i, n, len)
    }
    p.offset(i)
}

/// `i32` division as the interpreter defines it (0 when dividing by 0, wrapping).
#[inline(always)]
pub fn idiv(a: i32, b: i32) -> i32 {
    if b == 0 {
        0
    } else {
        a.wrapping_div(b)
    }
}

/// `i32` remainder as the interpreter defines it.
#[inline(always)]
pub fn irem(a: i32, b: i32) -> i32 {
    if b == 0 {
        0
    } else {
        a.wrapping_rem(b)
    }
}

/// `i32` floor division as the interpreter defines it.
#[inline(always)]
pub fn ifloordiv(a: i32, b: i32) -> i32 {
    if b == 0 {
        0
    } else {
        a.div_euclid(b)
    }
}

/// `i32` floor modulo as the interpreter defines it.
#[inline(always)]
pub fn ifloormod(a: i32, b: i32) -> i32 {
    if b == 0 {
        0
    } else {
        a.rem_euclid(b)
    }
}

/// A mask selecting lanes `0..n` of a 32-bit-lane AVX2 vector (`_mm256_maskload_ps`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn avx2_lane_mask32(n: usize) -> std::arch::x86_64::__m256i {
    const M: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];
    // SAFETY: 8 - n.min(8) + 8 <= 16 elements are read.
    unsafe { std::arch::x86_64::_mm256_loadu_si256(M.as_ptr().add(8 - n.min(8)) as *const _) }
}

/// A mask selecting lanes `0..n` of a 64-bit-lane AVX2 vector (`_mm256_maskload_pd`).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn avx2_lane_mask64(n: usize) -> std::arch::x86_64::__m256i {
    const M: [i64; 8] = [-1, -1, -1, -1, 0, 0, 0, 0];
    // SAFETY: 4 - n.min(4) + 4 <= 8 elements are read.
    unsafe { std::arch::x86_64::_mm256_loadu_si256(M.as_ptr().add(4 - n.min(4)) as *const _) }
}

/// Times `f`: runs it `warmup` times, then `repeats` times, and returns the
/// median duration of one call in seconds.
pub fn median_seconds(warmup: usize, repeats: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let mut times: Vec<f64> = (0..repeats.max(1))
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    times[times.len() / 2]
}
