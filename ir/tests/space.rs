//! The design space and the default schedule on every bundled kernel: the
//! rules apply, and what they produce computes what the kernel computes.

use kiln_ir::interp::Tensor;
use kiln_ir::ir::PrimFunc;
use kiln_ir::schedule::testing::{compare, kernel_in_file, run_random};
use kiln_ir::space::{default_trace, sample, SpaceError, SpaceOptions};
use kiln_ir::target::Isa;

const KERNELS: &[(&str, &str)] = &[
    ("matmul", include_str!("../../kernels/src/matmul.rs")),
    ("matmul_odd", include_str!("../../kernels/src/matmul_odd.rs")),
    ("linear0", include_str!("../../kernels/src/linear0.rs")),
    ("linear1", include_str!("../../kernels/src/linear1.rs")),
    ("linear", include_str!("../../kernels/src/linear.rs")),
    ("relu", include_str!("../../kernels/src/relu.rs")),
    ("softmax", include_str!("../../kernels/src/softmax.rs")),
    ("rmsnorm", include_str!("../../kernels/src/rmsnorm.rs")),
    ("conv2d", include_str!("../../kernels/src/conv2d.rs")),
];

/// The schedules reassociate reductions (rfactor, register tiles).
const TOLERANCE: f64 = 1e-4;

/// `scheduled` computes `want`, the outputs of `func` on `run_random(func, 3)`.
fn check(func: &PrimFunc, scheduled: &PrimFunc, want: &[Tensor]) {
    let got = run_random(scheduled, 3);
    compare(&got, want, Some(TOLERANCE)).unwrap_or_else(|e| panic!("{}: {e}\n{scheduled}", func.name));
}

#[test]
fn default_schedules_apply_and_keep_results() {
    for (name, src) in KERNELS {
        let func = kernel_in_file(src).func;
        let want = run_random(&func, 3);
        for isa in [Isa::Avx2, Isa::Avx512, Isa::Scalar] {
            let sch = default_trace(&func, &SpaceOptions::new(isa)).unwrap_or_else(|e| panic!("{name} {isa}: {e}"));
            check(&func, sch.func(), &want);
            if std::env::var_os("KILN_SHOW").is_some() {
                println!("== {name} {isa}\n{}\n{}", sch.trace(), sch.func());
            }
        }
    }
}

#[test]
fn sampled_schedules_keep_results() {
    for (name, src) in KERNELS {
        let func = kernel_in_file(src).func;
        let want = run_random(&func, 3);
        for seed in 0..4 {
            match sample(&func, &SpaceOptions::new(Isa::Avx2), seed) {
                Ok(sch) => check(&func, sch.func(), &want),
                Err(SpaceError::Rejected(_)) => {}
                Err(e) => panic!("{name} seed {seed}: {e}"),
            }
        }
    }
}
