//! Reports: what tuning one task for one ISA gave ([`TaskReport`]), the
//! per-task table and the tuning curves (SVG, `plotters`).

use std::fmt::Write;
use std::path::{Path, PathBuf};

use plotters::prelude::*;

use kiln_ir::target::Isa;
use kiln_ir::trace::Trace;

use crate::commit::Committed;
use crate::error::{Error, Result};
use crate::task::gflops;

/// What tuning one task for one ISA gave.
#[derive(Clone, Debug)]
pub struct TaskReport {
    pub kernel: String,
    pub isa: Isa,
    pub flops: u64,
    pub default_us: Option<f64>,
    pub best_us: Option<f64>,
    pub best_trace: Option<Trace>,
    /// Search trials in the database (this run's and earlier ones').
    pub trials: usize,
    /// Trials measured by this run.
    pub new_trials: usize,
    /// Trials that failed (build, check, crash, timeout).
    pub failed: usize,
    pub wall_seconds: f64,
    /// `(trial, best GFLOP/s so far)` after every measured search trial.
    pub curve: Vec<(usize, f64)>,
    /// What happened to the trace file.
    pub committed: Committed,
    pub notes: Vec<String>,
    /// The machine's fp32 FMA peak for the ISA, GFLOP/s (`tuner machine`).
    pub peak_gflops: Option<f64>,
}

impl TaskReport {
    pub fn gflops(&self) -> Option<f64> {
        self.best_us.map(|us| gflops(self.flops, us))
    }

    /// The best program's share of the machine's FMA peak, in percent.
    pub fn percent_of_peak(&self) -> Option<f64> {
        Some(100.0 * self.gflops()? / self.peak_gflops?)
    }

    pub fn speedup(&self) -> Option<f64> {
        Some(self.default_us? / self.best_us?)
    }
}

fn fmt_us(us: Option<f64>) -> String {
    us.map_or("—".into(), |u| format!("{u:.2}"))
}

fn fmt_flop(f: u64) -> String {
    match f {
        f if f >= 1_000_000_000 => format!("{:.2} G", f as f64 / 1e9),
        f if f >= 1_000_000 => format!("{:.2} M", f as f64 / 1e6),
        f if f >= 1_000 => format!("{:.1} k", f as f64 / 1e3),
        f => f.to_string(),
    }
}

/// The per-task table: FLOP, default and best latency, GFLOP/s, trials,
/// speed-up over the default schedule, tuning time.
pub fn table(reports: &[TaskReport]) -> String {
    let head = [
        "kernel",
        "isa",
        "FLOP",
        "default µs",
        "best µs",
        "GFLOP/s",
        "% peak",
        "trials",
        "failed",
        "speed-up",
        "wall s",
    ];
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.kernel.clone(),
                r.isa.name().to_string(),
                fmt_flop(r.flops),
                fmt_us(r.default_us),
                fmt_us(r.best_us),
                r.gflops().map_or("—".into(), |g| format!("{g:.1}")),
                r.percent_of_peak().map_or("—".into(), |p| format!("{p:.0}%")),
                if r.new_trials == r.trials {
                    r.trials.to_string()
                } else {
                    format!("{} ({} new)", r.trials, r.new_trials)
                },
                r.failed.to_string(),
                r.speedup().map_or("—".into(), |s| format!("{s:.2}×")),
                format!("{:.1}", r.wall_seconds),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..head.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([head[c].chars().count()]).max().unwrap_or(0))
        .collect();
    let width = |c: usize| widths[c];
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, s)| {
                let pad = width(c) - s.chars().count();
                if c < 2 {
                    format!("{s}{}", " ".repeat(pad))
                } else {
                    format!("{}{s}", " ".repeat(pad))
                }
            })
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(head.iter().map(|s| s.to_string()).collect(), &mut out);
    line(head.iter().enumerate().map(|(c, _)| "-".repeat(width(c))).collect(), &mut out);
    for r in rows {
        line(r, &mut out);
    }
    out
}

/// Writes the tuning curve of a report (best GFLOP/s against trials, with
/// the default schedule as a flat line) to `dir/<kernel>-<isa>.svg`.
pub fn curve_svg(r: &TaskReport, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(Error::io("create", dir))?;
    let path = dir.join(format!("{}-{}.svg", r.kernel, r.isa.name()));
    draw_curve(r, &path).map_err(|message| Error::Plot { path: path.clone(), message })?;
    Ok(path)
}

fn draw_curve(r: &TaskReport, path: &Path) -> std::result::Result<(), String> {
    let default_g = r.default_us.map(|us| gflops(r.flops, us));
    let top = r.curve.iter().map(|p| p.1).chain(default_g).fold(1.0f64, f64::max) * 1.1;
    let n = r.curve.last().map_or(1, |p| p.0).max(1);
    {
        let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{} ({}): best GFLOP/s vs trials", r.kernel, r.isa.name()), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0usize..n, 0.0..top)
            .map_err(|e| e.to_string())?;
        chart.configure_mesh().x_desc("trials").y_desc("GFLOP/s").draw().map_err(|e| e.to_string())?;
        let mut pts: Vec<(usize, f64)> = vec![(0, 0.0)];
        pts.extend(r.curve.iter().copied());
        chart
            .draw_series(LineSeries::new(pts, BLUE.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label("best so far")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE.stroke_width(2)));
        if let Some(g) = default_g {
            chart
                .draw_series(LineSeries::new(vec![(0, g), (n, g)], RED.stroke_width(1)))
                .map_err(|e| e.to_string())?
                .label("default schedule")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], RED));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(())
}
