use kiln::tensor_func;

tensor_func! {
    pub fn scale(x: [f32; n, 8], y: &mut [f32; n, 8])
    where
        n: dim(1..=32)
    {
        for (i, j) in grid(n, 8) {
            block("Y") {
                let (vi, vj) = axis::remap("SS", (i, j));
                y[vi, vj] = x[vi, vj] * 2.0;
            }
        }
    }
}

fn main() {}
