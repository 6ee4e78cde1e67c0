//! The audit's picture: per sample, original | augmented | the attacker's reconstructions.

use std::path::Path;

use amalgam_core::Result;
use amalgam_core::data::ImageSet;
use amalgam_core::data::LabelledSet;
use amalgam_core::files::{PUBLIC_MODE, create_atomic};
use image::{ImageFormat, Rgb, RgbImage};

/// Gap between tiles, in pixels.
const GAP: u32 = 4;
/// Target height of a tile, in pixels.
const TILE: usize = 140;

/// Writes a PNG grid to `path`: one row per sample (the first `rows`), one column per set in
/// `columns` (all with the same number of samples), each image scaled up by an integer factor
/// and centred in its cell. Three-channel sets are drawn in colour, others by their first
/// channel in grey.
///
/// # Errors
/// [`amalgam_core::Error::File`] naming `path` if it cannot be written.
pub fn write_grid(path: &Path, columns: &[&ImageSet], rows: usize) -> Result<()> {
    let rows = rows.min(columns.iter().map(|c| c.len()).min().unwrap_or(0));
    let cell_h = columns.iter().map(|c| c.shape.height).max().unwrap_or(1);
    let cell_w = columns.iter().map(|c| c.shape.width).max().unwrap_or(1);
    let scale = (TILE / cell_h).max(1);
    let (cell_h, cell_w) = ((cell_h * scale) as u32, (cell_w * scale) as u32);
    let width = columns.len() as u32 * (cell_w + GAP) + GAP;
    let height = rows as u32 * (cell_h + GAP) + GAP;
    let mut canvas = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    for row in 0..rows {
        for (col, set) in columns.iter().enumerate() {
            let (h, w) = (set.shape.height, set.shape.width);
            let sample = set.sample(row);
            let x0 = GAP + col as u32 * (cell_w + GAP) + (cell_w - (w * scale) as u32) / 2;
            let y0 = GAP + row as u32 * (cell_h + GAP) + (cell_h - (h * scale) as u32) / 2;
            for y in 0..h * scale {
                for x in 0..w * scale {
                    let p = (y / scale) * w + x / scale;
                    let level =
                        |c: usize| (sample[c * h * w + p].clamp(0.0, 1.0) * 255.0).round() as u8;
                    let pixel = if set.shape.channels == 3 {
                        Rgb([level(0), level(1), level(2)])
                    } else {
                        Rgb([level(0); 3])
                    };
                    canvas.put_pixel(x0 + x as u32, y0 + y as u32, pixel);
                }
            }
        }
    }
    create_atomic(path, PUBLIC_MODE, |file, _| {
        canvas
            .write_to(&mut std::io::BufWriter::new(file), ImageFormat::Png)
            .map_err(|e| e.to_string())
    })
}
