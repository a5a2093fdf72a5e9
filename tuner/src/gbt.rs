//! The gradient-boosted-tree regressor behind the cost model: `forust-ml`.
//!
//! Chosen by evaluation on a real tuning database (709 measured programs of
//! matmul, matmul_odd, linear, linear0 and conv2d on AVX2; 5 random 70/30
//! splits, Spearman rank correlation of predicted against measured GFLOP/s
//! on the held-out 30%, per kernel): forust-ml 0.8 0.741 mean (0.10 s per
//! fit), gbdt 0.1.3 0.732 (0.27 s); perpetual (1.9, 2.3) does not build on
//! stable Rust (`#![feature(array_ptr_get)]`). forust-ml is also the one
//! maintained. Trees are fitted single-threaded with a fixed seed, so the
//! model — and the search it guides — is deterministic.

use forust_ml::objective::ObjectiveType;
use forust_ml::{GradientBooster, Matrix};

/// A fitted model.
pub struct Model {
    booster: GradientBooster,
    cols: usize,
}

/// Column-major copy of a row-major feature table (forust's layout).
fn column_major(x: &[Vec<f32>], cols: usize) -> Vec<f64> {
    let rows = x.len();
    let mut out = vec![0.0; rows * cols];
    for (i, row) in x.iter().enumerate() {
        for (j, v) in row.iter().enumerate().take(cols) {
            out[j * rows + i] = f64::from(*v);
        }
    }
    out
}

impl Model {
    /// Fits `y` (relative throughputs) on `x` (feature rows).
    pub fn fit(x: &[Vec<f32>], y: &[f32]) -> Result<Model, String> {
        let cols = x.first().map_or(0, |r| r.len());
        if x.is_empty() || cols == 0 || x.len() != y.len() {
            return Err("no training data".into());
        }
        let data = column_major(x, cols);
        let m = Matrix::new(&data, x.len(), cols);
        let y: Vec<f64> = y.iter().map(|v| f64::from(*v)).collect();
        let mut booster = GradientBooster::default()
            .set_objective_type(ObjectiveType::SquaredLoss)
            .set_iterations(100)
            .set_learning_rate(0.1)
            .set_max_depth(5)
            .set_min_leaf_weight(2.0)
            .set_parallel(false)
            .set_seed(0);
        booster.fit_unweighted(&m, &y, None).map_err(|e| e.to_string())?;
        Ok(Model { booster, cols })
    }

    /// Predicted relative throughputs.
    pub fn predict(&self, x: &[Vec<f32>]) -> Vec<f64> {
        if x.is_empty() {
            return vec![];
        }
        let data = column_major(x, self.cols);
        self.booster.predict(&Matrix::new(&data, x.len(), self.cols), false)
    }
}
