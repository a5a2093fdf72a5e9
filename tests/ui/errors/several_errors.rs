use kiln::tensor_func;

tensor_func! {
    pub fn many(a: [f32; 8], b: [f64; 8], c: &mut [f32; 8], d: &mut [f32; 8]) {
        for i in 0..8 {
            block("C") {
                let vi = axis::spatial(8, i);
                c[vi] = b[vi];
            }
        }
        for i in 0..8 {
            block("D") {
                let vi = axis::spatial(8, i);
                d[vi] = a[vi + 1] + q[vi];
            }
        }
    }
}

fn main() {}
