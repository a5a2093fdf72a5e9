//! The gradient-boosted-tree regressor behind the cost model: `forust-ml`.
//!
//! Chosen by evaluation on real tuning databases from this machine (Zen 3,
//! AVX2): for each kernel, the Spearman rank correlation between predicted
//! and measured GFLOP/s on a held-out 30% (5 random splits, 100 trees of
//! depth 5, learning rate 0.1 for both):
//!
//! | data | forust-ml 0.8 | gbdt 0.1.3 |
//! |---|---|---|
//! | random search, 709 programs of 5 kernels | 0.765 (0.15 s per fit) | 0.760 (0.32 s) |
//! | evolutionary search, 440 programs of 7 kernels | 0.392 (0.10 s) | 0.413 (0.19 s) |
//! | both | 0.611 (0.19 s) | 0.589 (0.47 s) |
//!
//! (Per kernel on the random data: matmul 0.77, matmul_odd 0.89, linear
//! 0.93, linear0 0.77, conv2d 0.47. Evolutionary data is harder: its
//! programs are near-equals.) The two are tied in accuracy; forust-ml fits
//! 2–3× faster and is the maintained one. perpetual (1.9.4, 2.3.0) does not
//! build on stable Rust (`#![feature(array_ptr_get)]`). Trees are fitted
//! single-threaded with a fixed seed, so the model — and the search it
//! guides — is deterministic. `tuner eval-cost-model --work-dir DIR`
//! repeats the evaluation on any database.

use forust_ml::objective::ObjectiveType;
use forust_ml::{GradientBooster, Matrix};

use crate::error::{Error, Result};

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
    pub fn fit(x: &[Vec<f32>], y: &[f32]) -> Result<Model> {
        let cols = x.first().map_or(0, |r| r.len());
        if x.is_empty() || cols == 0 || x.len() != y.len() {
            return Err(Error::CostModel("no training data".into()));
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
        booster.fit_unweighted(&m, &y, None).map_err(|e| Error::CostModel(e.to_string()))?;
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
