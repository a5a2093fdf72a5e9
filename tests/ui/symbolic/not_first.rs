use kiln::tensor_func;

tensor_func! {
    pub fn scale(x: [f32; 8, n], y: &mut [f32; 8, n])
    where
        n: dim(1..=4096, tune = 64)
    {
        for (i, j) in grid(8, n) {
            block("Y") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = x[vi, vj] * 2.0;
            }
        }
    }
}

fn main() {}
