//! kiln's bundled kernels, written with `tensor_func!`.
//!
//! Each kernel's committed schedules live in `traces/<kernel>.json`; `build.rs`
//! makes cargo rebuild this crate when one is added, changed or removed, and
//! warns when one is stale. This crate is also the template for a user's own
//! kernel crate: a `src/` of `tensor_func!`s, a `traces/` directory, and the
//! same `build.rs`.
//!
//! | kernel | computation |
//! |---|---|
//! | [`matmul`] | C = A·B, 128×128×128 (the chapter's `MyModule`) |
//! | [`matmul_odd`] | C = A·B, 100×300·300×37: sizes that do not divide by the vector width |
//! | [`linear0`] | Z = X·Wᵀ + B, 1×784 → 1×128 (the MLP's first layer, two blocks as in the chapter) |
//! | [`linear1`] | Z = X·Wᵀ + B, 1×128 → 1×10 |
//! | [`linear`] | Z = X·Wᵀ + B, batched: 64×784 → 64×128 |
//! | [`relu`] | Y = max(X, 0), 1×128 |
//! | [`softmax`] | row-wise softmax over 64×1000 |
//! | [`conv2d`] | NCHW convolution 1×16×32×32 ⊛ 32×16×3×3, stride 1, pad 1 |

mod conv2d;
mod linear;
mod linear0;
mod linear1;
mod matmul;
mod matmul_odd;
pub mod mlp;
mod relu;
mod softmax;

pub use conv2d::*;
pub use linear::*;
pub use linear0::*;
pub use linear1::*;
pub use matmul::*;
pub use matmul_odd::*;
pub use relu::*;
pub use softmax::*;
