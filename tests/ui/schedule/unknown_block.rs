use kiln::tensor_func;

tensor_func! {
    pub fn mm(a: [f32; 16, 16], b: [f32; 16, 16], c: &mut [f32; 16, 16]) {
        for (i, j, k) in grid(16, 16, 16) {
            block("C") {
                let (vi, vj, vk) = axis::remap("SSR", (i, j, k));
                init { c[vi, vj] = 0.0; }
                c[vi, vj] += a[vi, vk] * b[vk, vj];
            }
        }
    }
    schedule {
        b0 = sch.get_block(name="D", func_name="main")
    }
}

fn main() {}
