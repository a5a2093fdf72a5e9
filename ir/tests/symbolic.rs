//! Symbolic dimensions: parsing, instances, and the code that works for every value.

use kiln_ir::parse::parse_kernel_str;
use kiln_ir::program::Sources;
use kiln_ir::schedule::testing::kernel_in_file;
use kiln_ir::target::{Isa, Target};

/// The bundled kernel, as a user writes it.
const LINEAR: &str = include_str!("../../kernels/src/linear_sym.rs");

/// The error messages of `src` (a kernel that must not parse).
fn errors(src: &str) -> Vec<String> {
    parse_kernel_str(src).unwrap_err().error.into_iter().map(|e| e.to_string()).collect()
}

fn scale(sig: &str, grid: &str, store: &str) -> String {
    format!(
        "fn scale({sig} {{ for (i, j) in grid({grid}) {{ block(\"Y\") {{ let (vi, vj) = axis::remap(\"SS\", (i, j)); {store} }} }} }}"
    )
}

#[test]
fn the_ir_is_an_instance_at_the_tune_value() {
    let k = kernel_in_file(LINEAR);
    let d = &k.func.dims[0];
    assert_eq!((d.name.as_str(), d.min, d.max, d.tune.as_slice(), d.value), ("n", 1, 4096, &[64][..], 64));
    assert_eq!(d.buffers, ["x", "z", "y"]);
    assert_eq!(k.func.params[0].buffer.shape, vec![64, 784]);
    let text = k.func.to_string();
    assert!(text.contains("x: T.Buffer((n, 784), \"float32\")"), "{text}");
    assert!(text.contains("n = T.int64()  # in 1..=4096, tuned at 64"), "{text}");
    let f7 = k.instantiate(&[("n", 7)]).unwrap();
    assert_eq!(f7.params[0].buffer.shape, vec![7, 784]);
    assert_eq!(f7.params[3].buffer.shape, vec![7, 128]);
    assert!(k.instantiate(&[("n", 5000)]).unwrap_err().contains("`n` = 5000 is outside its range 1..=4096"));
    // The workload hash covers the symbolic signature.
    let fixed = kernel_in_file(
        &LINEAR
            .replace("[f32; n, 784]", "[f32; 64, 784]")
            .replace("[f32; n, 128]", "[f32; 64, 128]")
            .replace("grid(n,", "grid(64,")
            .replace("where\n        n: dim(1..=4096, tune = 64)", ""),
    );
    assert_ne!(kiln_ir::tracefile::workload_hash(&fixed.func), kiln_ir::tracefile::workload_hash(&k.func));
}

#[test]
fn bad_declarations_are_located_errors() {
    let body = "y[vi, vj] = x[vi, vj] * 2.0;";
    let cases = [
        (
            scale("x: [f32; n, 8], y: &mut [f32; n, 8])", "n, 8", body),
            "unknown dimension `n`: declare a symbolic dimension",
        ),
        (
            scale("x: [f32; n, 8], y: &mut [f32; n, 8]) where n: dim(64..=8, tune = 16)", "n, 8", body),
            "the range of `n` is empty: 64 > 8",
        ),
        (
            scale("x: [f32; n, 8], y: &mut [f32; n, 8]) where n: dim(1..=32, tune = 64)", "n, 8", body),
            "the tune value 64 is outside the range 1..=32 of `n`",
        ),
        (
            scale("x: [f32; n, 8], y: &mut [f32; n, 8]) where n: dim(1..=32)", "n, 8", body),
            "`n` needs the value(s) to tune at",
        ),
        (
            scale("x: [f32; n, 8], y: &mut [f32; 64, 8]) where n: dim(1..=4096, tune = 64)", "n, 8", body),
            "`vi` runs over the symbolic `n`, but the first dimension of `y` is not `n`",
        ),
        (
            scale("x: [f32; 8, n], y: &mut [f32; 8, n]) where n: dim(1..=4096, tune = 64)", "8, n", body),
            "a symbolic dimension must be the first dimension",
        ),
        (
            scale(
                "x: [f32; n, 8], y: &mut [f32; n, 8]) where n: dim(2..=4096, tune = 64)",
                "n, 8",
                "y[vi, vj] = x[0, vj];",
            ),
            "the first dimension of `x` is the symbolic `n`: index it with an axis over `n`",
        ),
        (
            scale("x: [f32; n, 8], y: &mut [f32; m, 8]) where n: dim(1..=9, tune = 4)", "n, 8", body),
            "unknown dimension `m`",
        ),
    ];
    for (src, want) in cases {
        let got = errors(&src);
        assert!(got.iter().any(|e| e.contains(want)), "{src}\nwant: {want}\ngot: {got:?}");
    }
}

#[test]
fn every_isa_gets_code_for_every_n() {
    let k = kernel_in_file(LINEAR);
    let s = Sources::without_file(&k).unwrap();
    for isa in [Isa::Avx512, Isa::Avx2, Isa::Scalar] {
        let p = s.untuned(&Target::isa(isa), 1).unwrap();
        let code = kiln_ir::codegen::pretty(&kiln_ir::codegen::emit_impl(&p.func, isa, &quote::format_ident!("k")));
        assert!(code.contains("let __kiln_dim_n: isize = (x.len() / 784) as isize;"), "{isa}:\n{code}");
        assert!(code.contains("__kiln_dim_n % "), "{isa}: no partial step:\n{code}");
        assert!(!code.contains("checked"), "{isa}: an access of `x` or `z` was not proven in bounds:\n{code}");
    }
}

#[test]
#[ignore = "prints the code"]
fn print_code() {
    let k = kernel_in_file(LINEAR);
    let s = Sources::without_file(&k).unwrap();
    let p = s.untuned(&Target::isa(Isa::Avx2), 1).unwrap();
    println!(
        "{}",
        kiln_ir::codegen::pretty(&kiln_ir::codegen::emit_impl(&p.func, Isa::Avx2, &quote::format_ident!("k")))
    );
}
