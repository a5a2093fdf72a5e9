//! The kernel fails to compile; its callers see only the kernel's error,
//! because the macro still emits `copy`, `try_copy` and `try_copy_on` with the
//! declared signature.
use kiln::tensor_func;

tensor_func! {
    /// Copies.
    pub fn copy(a: [f32; 8], c: &mut [f32; 8]) {
        for i in 0..8 {
            block("C") {
                let vi = axis::spatial(8, i);
                c[vi] = a[vi] + undefined[vi];
            }
        }
    }
}

fn main() {
    let a = [1f32; 8];
    let mut c = vec![0f32; 8];
    copy(&a, &mut c);
    try_copy(&a, &mut c).unwrap();
    let r: Result<(), kiln::Error> = try_copy_on(kiln::Isa::Scalar, &a[..], &mut c[..]);
    r.unwrap();
}
