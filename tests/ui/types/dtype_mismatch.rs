use kiln::tensor_func;

tensor_func! {
    pub fn mixed(a: [f32; 8], b: [f64; 8], c: &mut [f32; 8]) {
        for i in 0..8 {
            block("C") {
                let vi = axis::spatial(8, i);
                c[vi] = a[vi] + b[vi];
            }
        }
    }
}

fn main() {}
