//! PNG scatter plots (plotters). Text needs a TrueType font: DejaVu Sans or Liberation Sans
//! is taken from the usual system places; without one, the plot is drawn without text.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Result, anyhow};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

/// Where a sans-serif TrueType font usually is.
const FONT_PATHS: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// Registers the first font found as `sans-serif`, once; whether there is one.
fn has_font() -> bool {
    static FOUND: OnceLock<bool> = OnceLock::new();
    *FOUND.get_or_init(|| {
        FONT_PATHS.iter().any(|path| {
            std::fs::read(path).ok().is_some_and(|bytes| {
                register_font(
                    "sans-serif",
                    FontStyle::Normal,
                    Box::leak(bytes.into_boxed_slice()),
                )
                .is_ok()
            })
        })
    })
}

/// One point of a scatter plot.
pub struct Point {
    /// Horizontal value.
    pub x: f64,
    /// Vertical value.
    pub y: f64,
    /// Drawn beside the point.
    pub label: String,
    /// Drawn large and red.
    pub highlighted: bool,
}

/// Writes a scatter plot of `points` to the PNG file `path` (written whole, then renamed).
///
/// # Errors
/// If the file cannot be written.
pub fn scatter_png(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[Point],
) -> Result<()> {
    let range = |values: Vec<f64>| {
        let (lo, hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let pad = ((hi - lo) * 0.1).max(0.01);
        (lo - pad)..(hi + pad)
    };
    let xs = range(points.iter().map(|p| p.x).collect());
    let ys = range(points.iter().map(|p| p.y).collect());
    let tmp = path.with_extension("partial.png");
    let fail = |e: &dyn std::fmt::Display| anyhow!("{}: cannot draw the plot: {e}", path.display());
    {
        let root = BitMapBackend::new(&tmp, (900, 640)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(&e))?;
        let text = has_font();
        let mut builder = ChartBuilder::on(&root);
        builder.margin(20);
        if text {
            builder
                .caption(title, ("sans-serif", 22))
                .x_label_area_size(45)
                .y_label_area_size(60);
        }
        let mut chart = builder.build_cartesian_2d(xs, ys).map_err(|e| fail(&e))?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc(x_label)
                .y_desc(y_label)
                .label_style(("sans-serif", 14));
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw().map_err(|e| fail(&e))?;
        chart
            .draw_series(points.iter().map(|p| {
                let style = if p.highlighted {
                    RED.filled()
                } else {
                    BLUE.filled()
                };
                Circle::new((p.x, p.y), if p.highlighted { 8 } else { 5 }, style)
            }))
            .map_err(|e| fail(&e))?;
        if text {
            chart
                .draw_series(points.iter().map(|p| {
                    Text::new(p.label.clone(), (p.x, p.y), ("sans-serif", 13).into_font())
                }))
                .map_err(|e| fail(&e))?;
        }
        root.present().map_err(|e| fail(&e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| anyhow!("{}: cannot write: {e}", path.display()))
}
