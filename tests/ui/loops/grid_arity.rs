use kiln::tensor_func;

tensor_func! {
    pub fn copy(a: [f32; 8, 8], c: &mut [f32; 8, 8]) {
        for (i, j) in grid(8, 8, 8) {
            block("C") {
                let (vi, vj) = axis::remap("SS", (i, j));
                c[vi, vj] = a[vi, vj];
            }
        }
    }
}

fn main() {}
