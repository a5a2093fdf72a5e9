//! The design space and the default schedule on every bundled kernel: the
//! rules apply, and what they produce computes what the kernel computes.

use kiln_ir::interp::{self, Tensor};
use kiln_ir::ir::PrimFunc;
use kiln_ir::parse::parse_kernel_str;
use kiln_ir::schedule::testing::random_args;
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
    ("conv2d", include_str!("../../kernels/src/conv2d.rs")),
];

fn kernel(src: &str) -> PrimFunc {
    let files = kiln_ir::parse::find_kernels_in_file(src).unwrap();
    files.into_iter().next().unwrap().unwrap().func
}

fn close(a: &[Tensor], b: &[Tensor]) -> Result<(), String> {
    for (x, y) in a.iter().zip(b) {
        let scale = (0..y.len()).map(|i| y.get(i).abs()).fold(0.0, f64::max).max(1e-6);
        for i in 0..x.len() {
            let (p, q) = (x.get(i), y.get(i));
            let ok = (p - q).abs() <= 1e-4 * scale + 1e-3 * q.abs();
            if !ok {
                return Err(format!("element {i}: {p} vs {q}"));
            }
        }
    }
    Ok(())
}

fn check(func: &PrimFunc, scheduled: &PrimFunc, want: &[Tensor]) {
    let mut got = random_args(func, 3);
    interp::run(scheduled, &mut got).unwrap_or_else(|e| panic!("{e}\n{scheduled}"));
    close(&got, want).unwrap_or_else(|e| panic!("{}: {e}\n{scheduled}", func.name));
}

#[test]
fn default_schedules_apply_and_keep_results() {
    let _ = parse_kernel_str;
    for (name, src) in KERNELS {
        let func = kernel(src);
        let mut want = random_args(&func, 3);
        interp::run(&func, &mut want).unwrap();
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
        let func = kernel(src);
        let mut want = random_args(&func, 3);
        interp::run(&func, &mut want).unwrap();
        for seed in 0..4 {
            match sample(&func, &SpaceOptions::new(Isa::Avx2), seed) {
                Ok(sch) => check(&func, sch.func(), &want),
                Err(SpaceError::Rejected(_)) => {}
                Err(e) => panic!("{name} seed {seed}: {e}"),
            }
        }
    }
}
