//! Scoring the worker's image reconstructions against the images, read with the key.

use std::path::Path;

use amalgam_attack::tempo::{
    Piece, assemble, canonical_patches, correlations, im2col, kernel_layout,
};
use amalgam_core::backend::inference_device;
use amalgam_core::data::ImageSet;
use amalgam_core::model::ImageShape;
use amalgam_core::tempo::{Matrix, WorkerView};
use amalgam_core::{Error, Result};
use serde::Serialize;

use crate::audit::{psnr, ssim, write_grid};
use crate::tempo::key::TempoKey;

/// Public images whose patches give the kernel's expected correlations.
const PUBLIC_IMAGES_FOR_PATCHES: usize = 500;
/// Starts of the kernel-layout search.
const LAYOUT_STARTS: usize = 16;

/// The worker's reconstruction of the training images.
#[derive(Serialize, Debug, Clone)]
pub struct ImageScore {
    /// The attack: `pixel order` (a fully connected first layer) or `im2col jigsaw` (a
    /// convolutional one).
    pub attack: String,
    /// Positions to place: pixels per image, or kernel offsets.
    pub positions: usize,
    /// Share of them put at their exact place (the jigsaw: up to the best of the square's
    /// symmetries).
    pub placed_correctly: f64,
    /// Images scored (the first step's batch).
    pub scored_images: usize,
    /// PSNR of the reconstructions, dB.
    pub psnr: f64,
    /// SSIM of the reconstructions.
    pub ssim: f64,
    /// PSNR after moving each reconstruction by the integer shift (at most
    /// `MAX_REGISTRATION_SHIFT` = 6 pixels each way) that fits its image best: where the attack
    /// got the content right but not its place in the frame, dB.
    pub registered_psnr: f64,
    /// SSIM after the same shifts.
    pub registered_ssim: f64,
}

/// Largest shift tried when registering a reconstruction, pixels.
const MAX_REGISTRATION_SHIFT: i64 = 6;

/// `attacked`, each image moved by the shift that brings it closest to `original`'s.
fn registered(original: &ImageSet, attacked: &ImageSet) -> ImageSet {
    let (h, w) = (attacked.shape.height as i64, attacked.shape.width as i64);
    let size = (h * w) as usize;
    let shifted = |image: &[f32], dy: i64, dx: i64| -> Vec<f32> {
        let mut out = vec![0.0f32; size];
        for y in 0..h {
            for x in 0..w {
                let (sy, sx) = (y - dy, x - dx);
                if (0..h).contains(&sy) && (0..w).contains(&sx) {
                    out[(y * w + x) as usize] = image[(sy * w + sx) as usize];
                }
            }
        }
        out
    };
    let range = -MAX_REGISTRATION_SHIFT..=MAX_REGISTRATION_SHIFT;
    let values = attacked
        .images
        .chunks_exact(size)
        .zip(original.images.chunks_exact(size))
        .flat_map(|(image, truth)| {
            range
                .clone()
                .flat_map(|dy| range.clone().map(move |dx| (dy, dx)))
                .map(|(dy, dx)| {
                    let moved = shifted(image, dy, dx);
                    let error: f32 = moved
                        .iter()
                        .zip(truth)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum();
                    (moved, error)
                })
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("shifts")
                .0
        })
        .collect();
    ImageSet::new(attacked.shape, values, attacked.labels.clone()).expect("sizes match")
}

/// The score of `attacked` against `original`, as placed and registered.
fn scores(original: &ImageSet, attacked: &ImageSet) -> [f64; 4] {
    let moved = registered(original, attacked);
    [
        psnr(original, attacked),
        ssim(original, attacked),
        psnr(original, &moved),
        ssim(original, &moved),
    ]
}

/// Places the first step's permuted samples' pixels by `order` (the attack) and by the key,
/// and scores the first against the second.
pub(super) fn score_pixel_order(
    view: &WorkerView,
    key: &TempoKey,
    order: &[usize],
    shape: ImageShape,
    grid: &Path,
) -> Result<ImageScore> {
    let truth = key.layers[0].input.indices();
    let correct = order
        .iter()
        .zip(truth)
        .filter(|(a, b)| **a == **b as usize)
        .count();
    let batch: &Matrix = view
        .first_layer_inputs
        .first()
        .ok_or_else(|| Error::invalid("the worker saw no input"))?;
    let place = |positions: &mut dyn Iterator<Item = usize>| -> Vec<f32> {
        let positions: Vec<usize> = positions.collect();
        batch
            .values
            .chunks_exact(batch.cols)
            .flat_map(|row| {
                let mut image = vec![0.0f32; batch.cols];
                for (column, &pixel) in positions.iter().enumerate() {
                    image[pixel] = row[column];
                }
                image
            })
            .collect()
    };
    let labels = vec![0u8; batch.rows];
    let attacked = ImageSet::new(shape, place(&mut order.iter().copied()), labels.clone())?;
    let original = ImageSet::new(shape, place(&mut truth.iter().map(|&i| i as usize)), labels)?;
    write_grid(grid, &[&original, &attacked], batch.rows.min(8))?;
    let [psnr, ssim, registered_psnr, registered_ssim] = scores(&original, &attacked);
    Ok(ImageScore {
        attack: "pixel order".into(),
        positions: order.len(),
        placed_correctly: correct as f64 / order.len() as f64,
        scored_images: batch.rows,
        psnr,
        ssim,
        registered_psnr,
        registered_ssim,
    })
}

/// `(i, j)` of an `n × n` square under symmetry `t` (0-7: the rotations, then the same after a
/// left-right flip).
fn symmetry(t: usize, n: usize, (i, j): (usize, usize)) -> (usize, usize) {
    let (i, j) = if t >= 4 { (i, n - 1 - j) } else { (i, j) };
    match t % 4 {
        0 => (i, j),
        1 => (j, n - 1 - i),
        2 => (n - 1 - i, n - 1 - j),
        _ => (n - 1 - j, i),
    }
}

/// The im2col jigsaw on the first step's layer-0 rows (`kernel × kernel` patches of one
/// channel, zero padding `padding`), scored with the key: the kernel offsets placed right and
/// the images' PSNR and SSIM, both at the best of the square's eight symmetries (the
/// correlations cannot tell a flipped layout apart; an attacker looking at the images can).
/// Each image is compared with the largest piece whose patches are mostly its own (the key
/// only pairs them; the attack does not need it).
pub(super) fn score_jigsaw(
    view: &WorkerView,
    key: &TempoKey,
    public: &ImageSet,
    kernel: usize,
    padding: usize,
    grid: &Path,
) -> Result<ImageScore> {
    let shape = public.shape;
    let (h, w, k) = (shape.height, shape.width, kernel);
    let observed = &view
        .first_step
        .first()
        .filter(|p| p.layer == 0 && p.input.cols == k * k)
        .ok_or_else(|| Error::invalid("the worker's view holds no first-layer rows"))?
        .input;
    let device = inference_device();
    let sample = public.images.len().min(PUBLIC_IMAGES_FOR_PATCHES * h * w);
    let layout = kernel_layout(
        observed,
        &correlations(&observed.values, k * k, &device),
        &correlations(
            &im2col(&public.images[..sample], h, w, k, padding),
            k * k,
            &device,
        ),
        k,
        LAYOUT_STARTS,
    );
    let patches = canonical_patches(observed, &layout);
    let pieces = assemble(&patches, k);

    // The truth, read with the key.
    let (oh, ow) = (h + 2 * padding + 1 - k, w + 2 * padding + 1 - k);
    let rows = key.rows(0, 0, observed.rows);
    let offsets = key.layers[0].input.indices();
    let images = observed.rows / (oh * ow);
    let sample_of = |row: usize| rows.indices()[row] as usize / (oh * ow);
    let mut truth = vec![0.0f32; images * h * w];
    for (row, values) in observed.values.chunks_exact(observed.cols).enumerate() {
        let original = rows.indices()[row] as usize;
        let (b, position) = (original / (oh * ow), original % (oh * ow));
        let (y, x) = (position / ow, position % ow);
        for (column, &offset) in offsets.iter().enumerate() {
            let (i, j) = (offset as usize / k, offset as usize % k);
            let (py, px) = (
                (y + i) as i64 - padding as i64,
                (x + j) as i64 - padding as i64,
            );
            if (0..h as i64).contains(&py) && (0..w as i64).contains(&px) {
                truth[b * h * w + py as usize * w + px as usize] = values[column];
            }
        }
    }
    // Each image's largest piece.
    let mut best_piece: Vec<Option<&Piece>> = vec![None; images];
    for piece in &pieces {
        let mut votes = vec![0usize; images];
        for &(row, _, _) in &piece.patches {
            votes[sample_of(row)] += 1;
        }
        let (b, _) = votes
            .iter()
            .enumerate()
            .max_by_key(|(_, v)| **v)
            .expect("images");
        if best_piece[b].is_none() {
            best_piece[b] = Some(piece);
        }
    }
    let drawn: Vec<Vec<f32>> = best_piece
        .iter()
        .map(|p| p.map_or_else(|| vec![0.0; h * w], |p| p.render(&patches, k, h, w)))
        .collect();
    let labels = vec![0u8; images];
    let original = ImageSet::new(shape, truth, labels.clone())?;
    let symmetries = if h == w { 8 } else { 1 };
    let (attacked, _) = (0..symmetries)
        .map(|t| {
            let mut values = vec![0.0f32; images * h * w];
            for (b, image) in drawn.iter().enumerate() {
                for i in 0..h {
                    for j in 0..w {
                        let (ti, tj) = symmetry(t, h, (i, j));
                        values[b * h * w + ti * w + tj] = image[i * w + j];
                    }
                }
            }
            let set = ImageSet::new(shape, values, labels.clone()).expect("sizes match");
            let score = psnr(&original, &set);
            (set, score)
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("at least one symmetry");
    let placed = (0..8)
        .map(|t| {
            layout
                .iter()
                .zip(offsets)
                .filter(|(guess, truth)| {
                    let (i, j) = symmetry(t, k, (**guess / k, **guess % k));
                    i * k + j == **truth as usize
                })
                .count()
        })
        .max()
        .expect("eight symmetries");
    write_grid(grid, &[&original, &attacked], images.min(8))?;
    let [psnr, ssim, registered_psnr, registered_ssim] = scores(&original, &attacked);
    Ok(ImageScore {
        attack: "im2col jigsaw".into(),
        positions: k * k,
        placed_correctly: placed as f64 / (k * k) as f64,
        scored_images: images,
        psnr,
        ssim,
        registered_psnr,
        registered_ssim,
    })
}
