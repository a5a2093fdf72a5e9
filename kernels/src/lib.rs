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
//! | [`matmul512`] | C = A·B, 512×512×512: bigger than L2 (cache blocking, packed panels) |
//! | [`matmul512_t2`] | the same product, tuned for two threads |
//! | [`matmul_odd`] | C = A·B, 100×300·300×37: sizes that do not divide by the vector width |
//! | [`linear0`] | Z = X·Wᵀ + B, 1×784 → 1×128 (the MLP's first layer, two blocks as in the chapter) |
//! | [`linear1`] | Z = X·Wᵀ + B, 1×128 → 1×10 |
//! | [`linear`] | Z = X·Wᵀ + B, batched: 64×784 → 64×128 |
//! | [`linear_sym`] | the same for any batch `n` in 1..=4096 (a symbolic dimension, tuned at 64) |
//! | [`relu`] | Y = max(X, 0), 1×128 |
//! | [`softmax`] | row-wise softmax over 64×1000 |
//! | [`softmax_fast`] | the same under `#[fast_math]` (fast `exp`, one reciprocal per row) |
//! | [`layernorm`] | LayerNorm over 64×768: Y = (X − mean) / √(var + 1e-5) · γ + β per row (three passes as written) |
//! | [`rmsnorm`] | RMSNorm over 32×4096: Y = X · (1 / √(mean X² + 1e-6)) · w per row |
//! | [`gelu`] | GELU (tanh form) over 64×3072 |
//! | [`gelu_fast`] | the same under `#[fast_math]` (fast `tanh`) |
//! | [`bias_gelu`] | X + b, then GELU (tanh form), over 64×3072: two blocks, one pass |
//! | [`conv2d`] | NCHW convolution 1×16×32×32 ⊛ 32×16×3×3, stride 1, pad 1 |

// One file per kernel. The file modules are named `<kernel>_src` so that a
// kernel's own module (the packing API, `linear::pack_w`) is not shadowed
// by its file's module when the files' items are re-exported.
#[path = "bias_gelu.rs"]
mod bias_gelu_src;
#[path = "conv2d.rs"]
mod conv2d_src;
#[path = "gelu_fast.rs"]
mod gelu_fast_src;
#[path = "gelu.rs"]
mod gelu_src;
#[path = "layernorm.rs"]
mod layernorm_src;
#[path = "linear0.rs"]
mod linear0_src;
#[path = "linear1.rs"]
mod linear1_src;
#[path = "linear.rs"]
mod linear_src;
#[path = "linear_sym.rs"]
mod linear_sym_src;
#[path = "matmul512.rs"]
mod matmul512_src;
#[path = "matmul512_t2.rs"]
mod matmul512_t2_src;
#[path = "matmul_odd.rs"]
mod matmul_odd_src;
#[path = "matmul.rs"]
mod matmul_src;
pub mod mlp;
#[path = "relu.rs"]
mod relu_src;
#[path = "rmsnorm.rs"]
mod rmsnorm_src;
#[path = "softmax_fast.rs"]
mod softmax_fast_src;
#[path = "softmax.rs"]
mod softmax_src;

pub use bias_gelu_src::*;
pub use conv2d_src::*;
pub use gelu_fast_src::*;
pub use gelu_src::*;
pub use layernorm_src::*;
pub use linear0_src::*;
pub use linear1_src::*;
pub use linear_src::*;
pub use linear_sym_src::*;
pub use matmul512_src::*;
pub use matmul512_t2_src::*;
pub use matmul_odd_src::*;
pub use matmul_src::*;
pub use relu_src::*;
pub use rmsnorm_src::*;
pub use softmax_fast_src::*;
pub use softmax_src::*;
