//! Kernels with a symbolic dimension, as the macro emits them: one kernel
//! for every batch size, equal to the interpreter's instance at that size on
//! every ISA this machine runs, and lengths checked at run time.

use kiln::Isa;
use kiln_ir::interp::{self, Tensor};
use kiln_ir::schedule::testing::{compare, kernel_in_file, random_args};

const LINEAR_SYM: &str = include_str!("../kernels/src/linear_sym.rs");

/// `softmax_rows`: rows of 77, a length no vector width divides.
#[path = "../tuner/tests/shapes/rows.rs"]
mod rows;
const ROWS: &str = include_str!("../tuner/tests/shapes/rows.rs");

fn isas() -> Vec<Isa> {
    [Isa::Scalar, Isa::Avx2, Isa::Avx512].into_iter().filter(|i| kiln::runtime::supported(*i)).collect()
}

/// The batch sizes of the issue: 1, a prime, around the tune value, and
/// beyond it (several steps and a partial one).
const SIZES: [i64; 7] = [1, 2, 7, 63, 64, 100, 257];

#[test]
fn linear_sym_equals_the_interpreter_at_every_size() {
    let kernel = kernel_in_file(LINEAR_SYM);
    for n in SIZES {
        let func = kernel.instantiate(&[("n", n)]).unwrap();
        let mut want = random_args(&func, n as u64);
        let inputs: Vec<Vec<f32>> = want.iter().map(|t| t.as_f32().unwrap().to_vec()).collect();
        interp::run(&func, &mut want).unwrap();
        for isa in isas() {
            let mut z = vec![f32::NAN; n as usize * 128];
            kernels::try_linear_sym_on(isa, &inputs[0], &inputs[1], &inputs[2], &mut z)
                .unwrap_or_else(|e| panic!("n = {n}, {isa}: {e}"));
            compare(&[Tensor::F32(z)], &want[3..], Some(1e-4)).unwrap_or_else(|e| panic!("n = {n}, {isa}: {e}"));
        }
        // The packed entry too.
        let packed = kernels::linear_sym::try_pack_w(&inputs[1]);
        if let Ok(packed) = packed {
            let mut z = vec![f32::NAN; n as usize * 128];
            kernels::linear_sym::with_packed_w(&inputs[0], &packed, &inputs[2], &mut z);
            compare(&[Tensor::F32(z)], &want[3..], Some(1e-4)).unwrap_or_else(|e| panic!("n = {n}, packed: {e}"));
        }
    }
}

/// Row reductions and elementwise steps over rows of 77 (vectors with masked
/// tails in every row, up to the last row of the buffer) at every size.
#[test]
fn softmax_over_rows_of_77_equals_the_interpreter_at_every_size() {
    let kernel = kernel_in_file(ROWS);
    for n in SIZES {
        let func = kernel.instantiate(&[("n", n)]).unwrap();
        let mut want = random_args(&func, n as u64);
        let x = want[0].as_f32().unwrap().to_vec();
        interp::run(&func, &mut want).unwrap();
        for isa in isas() {
            let mut y = vec![f32::NAN; n as usize * 77];
            rows::try_softmax_rows_on(isa, &x, &mut y).unwrap_or_else(|e| panic!("n = {n}, {isa}: {e}"));
            compare(&[Tensor::F32(y)], &want[1..], Some(1e-5)).unwrap_or_else(|e| panic!("n = {n}, {isa}: {e}"));
        }
    }
}

#[test]
fn lengths_are_checked_at_run_time() {
    let (w, b) = (vec![0.0f32; 128 * 784], vec![0.0f32; 128]);
    let msg = |x: usize, z: usize| {
        let (x, mut z) = (vec![0.0f32; x], vec![0.0f32; z]);
        kernels::try_linear_sym(&x, &w, &b, &mut z).map(|_| String::new()).unwrap_or_else(|e| e.to_string())
    };
    assert_eq!(msg(3 * 784, 3 * 128), "");
    assert_eq!(
        msg(3 * 784 + 1, 3 * 128),
        "linear_sym: `x` has 2353 elements, not a multiple of 784: it is declared [f32; n, 784], rows of 784"
    );
    assert_eq!(
        msg(0, 0),
        "linear_sym: `x` has 0 rows (0 elements, declared [f32; n, 784]), but `n` must be in 1..=4096"
    );
    assert_eq!(
        msg(4097 * 784, 4097 * 128),
        "linear_sym: `x` has 4097 rows (3212048 elements, declared [f32; n, 784]), but `n` must be in 1..=4096"
    );
    assert_eq!(
        msg(3 * 784, 2 * 128),
        "linear_sym: `z` has 256 elements but is declared [f32; n, 128], which needs 384 for `n` = 3 (read from the \
         length of `x`)"
    );
    let r = std::panic::catch_unwind(|| {
        let (x, mut z) = (vec![0.0f32; 2 * 784], vec![0.0f32; 128]);
        kernels::linear_sym(&x, &w, &b, &mut z);
    });
    assert!(r.is_err(), "the panicking entry panics on inconsistent lengths");
}
