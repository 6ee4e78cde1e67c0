//! Images from permuted im2col rows: a jigsaw.
//!
//! A convolutional first layer receives one row per (sample, output position): the `k × k`
//! patch under the kernel, its values in an order one fixed secret permutation scrambles, the
//! rows shuffled afresh every step. Two steps undo it:
//! 1. [`kernel_layout`]: which column is which kernel offset. Pixels close to each other are
//!    correlated, so the columns' correlations, matched to those of public patches (a local
//!    search on the quadratic assignment, as for whole images), place the offsets, up to the
//!    symmetries of the square that the correlations cannot tell apart (flips, mostly).
//! 2. [`assemble`]: neighbouring patches overlap in `k (k - 1)` values, bit for bit. A patch
//!    whose right-hand `k × (k - 1)` block is exactly one other patch's left-hand block, and
//!    the other way round, is its left neighbour; the same holds vertically. Following these
//!    links puts patches, and so pixels, at relative coordinates: one piece per connected
//!    region of an image (blocks that are all zero, the black background, link nothing).

use std::collections::{HashMap, VecDeque};

use amalgam_core::tempo::Matrix;

use super::refine_order;

/// The kernel offset (`i·k + j`) of each observed column of `observed` `[n, k²]`: local
/// searches on the agreement between the observed columns' correlations and public
/// patches' (`[k², k²]`, row-major), from `starts` different starting orders, each result
/// judged by how many patches it lets [`assemble`] link (a right layout links most patches
/// that are not background, a wrong one almost none).
pub fn kernel_layout(
    observed: &Matrix,
    observed_correlations: &[f32],
    public_correlations: &[f32],
    k: usize,
    starts: usize,
) -> Vec<usize> {
    let d = k * k;
    let steps: Vec<usize> = (1..d).filter(|a| gcd(*a, d) == 1).collect();
    (0..starts.max(1))
        .map(|start| {
            let step = steps[start % steps.len()];
            let mut order: Vec<usize> = (0..d).map(|c| (c * step + start) % d).collect();
            refine_order(observed_correlations, public_correlations, &mut order, 50);
            let links = linked_patches(&canonical_patches(observed, &order), k);
            (order, links)
        })
        .max_by_key(|(_, links)| *links)
        .map(|(order, _)| order)
        .expect("at least one start")
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// How many patches have a right or lower neighbour by exact overlap.
fn linked_patches(patches: &[Vec<f32>], k: usize) -> usize {
    let right = neighbours(patches, k, false);
    let down = neighbours(patches, k, true);
    right
        .iter()
        .zip(&down)
        .filter(|(r, d)| r.is_some() || d.is_some())
        .count()
}

/// The im2col rows `[n, k²]` (kernel order, row-major) of single-channel `images`
/// (`side_h × side_w` each), zero-padded by `padding`, stride 1: what the attacker computes on
/// its public images for [`kernel_layout`].
pub fn im2col(images: &[f32], height: usize, width: usize, k: usize, padding: usize) -> Vec<f32> {
    let (oh, ow) = (height + 2 * padding + 1 - k, width + 2 * padding + 1 - k);
    let mut rows = Vec::with_capacity(images.len() / (height * width) * oh * ow * k * k);
    for image in images.chunks_exact(height * width) {
        for y in 0..oh {
            for x in 0..ow {
                for i in 0..k {
                    for j in 0..k {
                        let (py, px) = (
                            (y + i) as i64 - padding as i64,
                            (x + j) as i64 - padding as i64,
                        );
                        let inside =
                            (0..height as i64).contains(&py) && (0..width as i64).contains(&px);
                        rows.push(if inside {
                            image[py as usize * width + px as usize]
                        } else {
                            0.0
                        });
                    }
                }
            }
        }
    }
    rows
}

/// A piece of an image: patches (rows of the observed matrix) at relative coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    /// `(row, y, x)`: the patch in observed row `row` has its top-left pixel at `(y, x)`.
    pub patches: Vec<(usize, i32, i32)>,
}

impl Piece {
    /// The piece drawn on a `height × width` canvas, its pixels' centre of mass at the
    /// canvas's centre (pixels outside are dropped); `patches` gives the values in kernel
    /// order (`[n, k²]`).
    pub fn render(&self, patches: &[Vec<f32>], k: usize, height: usize, width: usize) -> Vec<f32> {
        let mut pixels: HashMap<(i32, i32), f32> = HashMap::new();
        for &(row, y, x) in &self.patches {
            for i in 0..k {
                for j in 0..k {
                    pixels.insert((y + i as i32, x + j as i32), patches[row][i * k + j]);
                }
            }
        }
        let mass: f32 = pixels.values().sum();
        let (cy, cx) = if mass > 0.0 {
            let cy = pixels.iter().map(|((y, _), v)| *y as f32 * v).sum::<f32>() / mass;
            let cx = pixels.iter().map(|((_, x), v)| *x as f32 * v).sum::<f32>() / mass;
            (cy, cx)
        } else {
            (0.0, 0.0)
        };
        let (dy, dx) = (
            ((height as f32 - 1.0) / 2.0 - cy).round() as i32,
            ((width as f32 - 1.0) / 2.0 - cx).round() as i32,
        );
        let mut canvas = vec![0.0f32; height * width];
        for ((y, x), v) in pixels {
            let (y, x) = (y + dy, x + dx);
            if (0..height as i32).contains(&y) && (0..width as i32).contains(&x) {
                canvas[y as usize * width + x as usize] = v;
            }
        }
        canvas
    }
}

/// The observed patches `[n, k²]` in kernel order (`layout[column]` is the column's offset).
pub fn canonical_patches(observed: &Matrix, layout: &[usize]) -> Vec<Vec<f32>> {
    observed
        .values
        .chunks_exact(observed.cols)
        .map(|row| {
            let mut patch = vec![0.0f32; row.len()];
            for (column, &offset) in layout.iter().enumerate() {
                patch[offset] = row[column];
            }
            patch
        })
        .collect()
}

/// The bits of `patch`'s values at offsets `(i, j)` with `i` in `rows` and `j` in `cols`,
/// or `None` if they are all zero (background: no evidence of adjacency).
fn block(
    patch: &[f32],
    k: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
) -> Option<Vec<u32>> {
    let bits: Vec<u32> = rows
        .flat_map(|i| cols.clone().map(move |j| i * k + j))
        .map(|o| patch[o].to_bits())
        .collect();
    bits.iter().any(|&b| b != 0).then_some(bits)
}

/// For each patch, its unique neighbour one step along (`dy`, `dx`) (right or down), when the
/// overlap matches exactly one patch both ways.
fn neighbours(patches: &[Vec<f32>], k: usize, down: bool) -> Vec<Option<usize>> {
    let (lead, trail) = if down {
        ((1..k, 0..k), (0..k - 1, 0..k))
    } else {
        ((0..k, 1..k), (0..k, 0..k - 1))
    };
    let mut by_trail: HashMap<Vec<u32>, Vec<usize>> = HashMap::new();
    let mut by_lead: HashMap<Vec<u32>, Vec<usize>> = HashMap::new();
    for (p, patch) in patches.iter().enumerate() {
        if let Some(b) = block(patch, k, trail.0.clone(), trail.1.clone()) {
            by_trail.entry(b).or_default().push(p);
        }
        if let Some(b) = block(patch, k, lead.0.clone(), lead.1.clone()) {
            by_lead.entry(b).or_default().push(p);
        }
    }
    patches
        .iter()
        .enumerate()
        .map(|(p, patch)| {
            let mine = block(patch, k, lead.0.clone(), lead.1.clone())?;
            match by_trail.get(&mine).map(Vec::as_slice) {
                Some(&[q]) if q != p && by_lead.get(&mine).map(Vec::len) == Some(1) => Some(q),
                _ => None,
            }
        })
        .collect()
}

/// Links patches (`[n, k²]`, kernel order) to their neighbours by exact overlaps and returns
/// the connected pieces, largest first.
pub fn assemble(patches: &[Vec<f32>], k: usize) -> Vec<Piece> {
    let right = neighbours(patches, k, false);
    let down = neighbours(patches, k, true);
    let n = patches.len();
    let mut edges: Vec<Vec<(usize, i32, i32)>> = vec![Vec::new(); n];
    for p in 0..n {
        if let Some(q) = right[p] {
            edges[p].push((q, 0, 1));
            edges[q].push((p, 0, -1));
        }
        if let Some(q) = down[p] {
            edges[p].push((q, 1, 0));
            edges[q].push((p, -1, 0));
        }
    }
    let mut seen = vec![false; n];
    let mut pieces = Vec::new();
    for start in 0..n {
        if seen[start] || edges[start].is_empty() {
            continue;
        }
        seen[start] = true;
        let mut queue = VecDeque::from([(start, 0i32, 0i32)]);
        let mut piece = Vec::new();
        while let Some((p, y, x)) = queue.pop_front() {
            piece.push((p, y, x));
            for &(q, dy, dx) in &edges[p] {
                if !seen[q] {
                    seen[q] = true;
                    queue.push_back((q, y + dy, x + dx));
                }
            }
        }
        pieces.push(Piece { patches: piece });
    }
    pieces.sort_by_key(|p| std::cmp::Reverse(p.patches.len()));
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 3×3 patches of a 5×5 image with distinct values, rows in a scrambled order.
    fn patches_of_image() -> (Vec<f32>, Vec<Vec<f32>>) {
        let image: Vec<f32> = (0..25).map(|v| v as f32 + 1.0).collect();
        let mut patches = Vec::new();
        for y in 0..3 {
            for x in 0..3 {
                let mut patch = Vec::new();
                for i in 0..3 {
                    for j in 0..3 {
                        patch.push(image[(y + i) * 5 + x + j]);
                    }
                }
                patches.push(patch);
            }
        }
        patches.reverse();
        (image, patches)
    }

    #[test]
    fn overlapping_patches_assemble_into_their_image() {
        let (image, patches) = patches_of_image();
        let pieces = assemble(&patches, 3);
        assert_eq!(pieces.len(), 1);
        let piece = &pieces[0].patches;
        assert_eq!(piece.len(), 9);
        // Every patch at its place, relative to the top-left one (rows were reversed).
        let (y0, x0) = (
            piece.iter().map(|p| p.1).min().unwrap(),
            piece.iter().map(|p| p.2).min().unwrap(),
        );
        for &(row, y, x) in piece {
            let original = 8 - row as i32;
            assert_eq!((y - y0, x - x0), (original / 3, original % 3));
        }
        // Drawn on a canvas twice the size, every value of the image is there.
        let mut drawn = pieces[0].render(&patches, 3, 10, 10);
        drawn.retain(|&v| v != 0.0);
        drawn.sort_by(f32::total_cmp);
        assert_eq!(drawn, image);
    }
}
