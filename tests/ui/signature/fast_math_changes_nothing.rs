use kiln::tensor_func;

tensor_func! {
    /// ReLU: no division, no exp/tanh/sigmoid: nothing for fast math to change.
    #[fast_math]
    pub fn relu_fast(a: [f32; 8], c: &mut [f32; 8]) {
        for i in 0..8 {
            block("C") {
                let vi = axis::spatial(8, i);
                c[vi] = a[vi].max(0.0);
            }
        }
    }
}

fn main() {
    let mut c = [0f32; 8];
    relu_fast(&[1.0; 8], &mut c);
}
