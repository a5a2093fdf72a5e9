//! The bounds-checked fallback of the generated code, end to end. An access
//! the bounds prover (`kiln-ir`'s `codegen/bounds.rs`) cannot prove in bounds
//! is emitted through `kiln::runtime::checked`; the kernel then computes the
//! right result where the access is in bounds, and panics, instead of reading
//! past the buffer, where it is not — on every ISA this machine runs. Then the
//! runtime's checked helpers themselves, the vector ones included.
//!
//! The kernels index `a` with `(3·i mod 8) + i`, which is 0, 4, 8, 4, 8, 12,
//! 8, 12 for i = 0..8: at most 12, but the analyzer bounds the two terms
//! separately (7 + 7 = 14). The language accepts both kernels (it rejects an
//! access only when its range is exact), so `gather_in` (13 elements) is a
//! correct kernel with an unprovable access, and `gather_out` (12 elements)
//! a wrong one whose access at i = 5 is out of bounds.

use std::panic::{catch_unwind, AssertUnwindSafe};

use kiln::{tensor_func, Isa};

/// Defines the kernels and keeps their source text (`SOURCE`), so that the
/// test can check what code they compile to.
macro_rules! kernels_with_source {
    ($($t:tt)*) => {
        $($t)*
        const SOURCE: &str = stringify!($($t)*);
    };
}

kernels_with_source! {
    tensor_func! {
        /// b[i] = a[(3i mod 8) + i], within `a`.
        pub fn gather_in(a: [f32; 13], b: &mut [f32; 8]) {
            for i in grid(8) {
                block("B") {
                    let vi = axis::spatial(8, i);
                    b[vi] = a[(vi * 3) % 8 + vi];
                }
            }
        }
    }
    tensor_func! {
        /// b[i] = a[(3i mod 8) + i] with `a` one element short.
        pub fn gather_out(a: [f32; 12], b: &mut [f32; 8]) {
            for i in grid(8) {
                block("B") {
                    let vi = axis::spatial(8, i);
                    b[vi] = a[(vi * 3) % 8 + vi];
                }
            }
        }
    }
}

fn isas() -> Vec<Isa> {
    [Isa::Scalar, Isa::Avx2, Isa::Avx512].into_iter().filter(|i| kiln::runtime::supported(*i)).collect()
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}

#[test]
fn the_unprovable_access_is_emitted_checked() {
    use kiln_ir::target::Isa as Target;
    let kernels = kiln_ir::parse::find_kernels_in_file(SOURCE).unwrap();
    assert_eq!(kernels.len(), 2);
    let schedules = [("gather_in", __kiln_schedule_of_gather_in), ("gather_out", __kiln_schedule_of_gather_out)];
    for k in kernels {
        let func = k.unwrap().func;
        let (_, rows) = schedules.iter().find(|(n, _)| *n == func.name).unwrap();
        for isa in Target::ALL {
            // The schedule the macro used is the default one...
            let scheduled =
                kiln_ir::space::default_trace(&func, &kiln_ir::space::SpaceOptions::new(isa)).unwrap().into_parts().0;
            let row = rows.iter().find(|r| r.0 == isa.target_key()).unwrap();
            assert_eq!(row.3, kiln_ir::ir::func_to_string(&scheduled), "{} {isa:?}", func.name);
            // ...and its code reads `a` through the checked helper, and only `a`.
            let name = proc_macro2::Ident::new("k", proc_macro2::Span::call_site());
            let code = kiln_ir::codegen::pretty(&kiln_ir::codegen::emit_impl(&scheduled, isa, &name));
            let flat: String = code.split_whitespace().collect();
            assert!(flat.contains("*::kiln::runtime::checked(aas*constf32,"), "{code}");
            assert!(!flat.contains("checked_mut"), "{code}");
        }
    }
}

#[test]
fn an_unprovable_access_in_bounds_computes() {
    let a: Vec<f32> = (0..13).map(|x| x as f32 * 1.5).collect();
    for isa in isas() {
        let mut b = vec![f32::NAN; 8];
        try_gather_in_on(isa, &a, &mut b).unwrap();
        let want: Vec<f32> = (0..8).map(|i| a[(i * 3) % 8 + i]).collect();
        assert_eq!(b, want, "{isa}");
    }
}

#[test]
fn an_access_out_of_bounds_panics() {
    let a = vec![1.0f32; 12];
    for isa in isas() {
        let mut b = vec![0.0f32; 8];
        let p = catch_unwind(AssertUnwindSafe(|| try_gather_out_on(isa, &a, &mut b))).unwrap_err();
        assert_eq!(panic_message(p), "kiln: access a[12] outside its 12 elements", "{isa}");
        // The lanes before the bad one were computed, none after.
        assert_eq!(&b[..5], &[1.0; 5], "{isa}");
        assert_eq!(&b[5..], &[0.0; 3], "{isa}");
    }
}

#[test]
fn checked_helpers_pass_indices_in_bounds() {
    let v: Vec<f32> = (0..8).map(|x| x as f32).collect();
    let mut w = vec![0.0f32; 8];
    unsafe {
        assert_eq!(*kiln::runtime::checked(v.as_ptr(), 7, 8, "v"), 7.0);
        *kiln::runtime::checked_mut(w.as_mut_ptr(), 0, 8, "w") = 3.0;
        assert_eq!(*kiln::runtime::checked_lanes(v.as_ptr(), 4, 4, 8, "v"), 4.0);
        *kiln::runtime::checked_lanes_mut(w.as_mut_ptr(), 1, 7, 8, "w") = 5.0;
        // No lane (an empty masked access) at the end.
        let _ = kiln::runtime::checked_lanes(v.as_ptr(), 8, 0, 8, "v");
    }
    assert_eq!(&w[..2], &[3.0, 5.0]);
}

/// The message `f` panics with.
fn panics(f: impl FnOnce()) -> String {
    panic_message(catch_unwind(AssertUnwindSafe(f)).unwrap_err())
}

#[test]
fn checked_helpers_panic_outside() {
    use kiln::runtime::{checked, checked_lanes, checked_lanes_mut, checked_mut};
    let v = [0.0f32; 8];
    let mut w = [0.0f32; 8];
    let (p, q) = (v.as_ptr(), w.as_mut_ptr());
    let msg = |s: &str| format!("kiln: access {s} outside its 8 elements");
    unsafe {
        assert_eq!(panics(|| _ = checked(p, 8, 8, "v")), msg("v[8]"));
        assert_eq!(panics(|| _ = checked(p, -1, 8, "v")), msg("v[-1]"));
        assert_eq!(panics(|| _ = checked_mut(q, 9, 8, "w")), msg("w[9]"));
        // Vector accesses: every lane is checked, the last one included.
        assert_eq!(panics(|| _ = checked_lanes(p, 1, 8, 8, "v")), msg("v[1..1+8]"));
        assert_eq!(panics(|| _ = checked_lanes(p, -2, 4, 8, "v")), msg("v[-2..-2+4]"));
        assert_eq!(panics(|| _ = checked_lanes_mut(q, 5, 4, 8, "w")), msg("w[5..5+4]"));
        assert_eq!(panics(|| _ = checked_lanes(p, 9, 0, 8, "v")), msg("v[9..9+0]"));
    }
}
