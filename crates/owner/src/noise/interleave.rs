//! The interleave construction (amalgam's, from the privacy audit; the idea is in issue 14):
//! no position of the augmented sample is noise to the cloud. The grid is split at random into
//! `K + 1` disjoint views of `H x W` positions per channel, one per branch; the real branch's
//! view holds the real sample, and each decoy's view holds a different natural image of the
//! same class from the *decoy inputs* (another set of the same shape and labels, or the
//! owner's own set). The few positions no view covers (fewer than one view's worth) get
//! resampled pixels ([`super::resample`]).
//!
//! Every branch then trains on natural images with the right labels, so nothing separates the
//! real view from the decoys statistically. What stays hidden depends on the decoy inputs:
//! decoys from the owner's own set hide which branch is real but show every view's private
//! images; decoys from a set the cloud also holds are found by matching; decoys from a set
//! only the owner holds hide which view is private (docs/PRIVACY.md measures each).

use amalgam_core::data::{ImageSet, LabelledSet};
use amalgam_core::model::InputShape;
use amalgam_core::{Error, Result};
use rand::Rng;
use rand::seq::SliceRandom;

use super::augmented_shape;

/// Per view (`views` of them), per channel, the sorted positions of the view: a random
/// partition of each channel's grid, with fewer than one view's worth of positions left over.
///
/// # Errors
/// [`Error::Invalid`] naming the amount that fits if `views` views do not fit the augmented
/// grid, or if the positions left over would make a whole view more (a block no filter reads).
pub fn draw_views(
    original: InputShape,
    augmented: InputShape,
    views: usize,
    rng: &mut impl Rng,
) -> Result<Vec<Vec<Vec<u32>>>> {
    let (view, grid) = (original.positions(), augmented.positions());
    if views * view > grid || grid - views * view >= view {
        return Err(Error::invalid(format!(
            "interleave noise puts one view of {view} positions per branch into the augmented \
             grid of {grid}: {views} branches need {} to {} positions; {}",
            views * view,
            (views + 1) * view - 1,
            match fitting_amount(original, views) {
                Some(a) => format!("use --amount {a} (or adjust --decoys)"),
                None => "no amount up to 4 fits: use fewer --decoys".to_string(),
            }
        )));
    }
    let mut per_view = vec![Vec::with_capacity(original.channels()); views];
    for _ in 0..original.channels() {
        let mut order: Vec<u32> = (0..grid as u32).collect();
        order.shuffle(rng);
        for (v, positions) in order.chunks(view).take(views).enumerate() {
            let mut positions = positions.to_vec();
            positions.sort_unstable();
            per_view[v].push(positions);
        }
    }
    Ok(per_view)
}

/// The smallest amount (to 0.01) at which `views` views fill the augmented grid of `original`
/// with less than a view left over, if any up to 4.
pub fn fitting_amount(original: InputShape, views: usize) -> Option<f64> {
    let view = original.positions();
    (1..=400).map(|i| f64::from(i) / 100.0).find(|&a| {
        augmented_shape(original, a).is_ok_and(|s| {
            let grid = s.positions();
            grid >= views * view && grid - views * view < view
        })
    })
}

/// Where the decoy views' images come from: one image set (of the original shape), indexed
/// by class.
#[derive(Clone, Debug)]
pub struct DecoyPool {
    set: ImageSet,
    by_class: Vec<Vec<u32>>,
}

impl DecoyPool {
    /// Indexes `set` by class, checking that it has the shape of the data it will hide and at
    /// least as many images of every class as `labels` (the data's labels) has, so that no
    /// decoy view repeats an image (`name` names it in errors).
    ///
    /// # Errors
    /// [`Error::Invalid`] for another sample shape or a class with too few images.
    pub fn new(set: ImageSet, labels: &[u8], shape: InputShape, name: &str) -> Result<Self> {
        if InputShape::Image(set.shape) != shape {
            return Err(Error::invalid(format!(
                "the decoy inputs {name} have samples of {}, the data {shape}",
                set.shape
            )));
        }
        let mut by_class: Vec<Vec<u32>> = Vec::new();
        for (i, &label) in set.labels().iter().enumerate() {
            let class = label as usize;
            if by_class.len() <= class {
                by_class.resize(class + 1, Vec::new());
            }
            by_class[class].push(i as u32);
        }
        let mut needed: Vec<usize> = Vec::new();
        for &label in labels {
            if needed.len() <= label as usize {
                needed.resize(label as usize + 1, 0);
            }
            needed[label as usize] += 1;
        }
        for (class, &count) in needed.iter().enumerate() {
            let held = by_class.get(class).map_or(0, Vec::len);
            if held < count {
                return Err(Error::invalid(format!(
                    "the decoy inputs {name} hold {held} images of class {class}, fewer than the \
                     data's {count}: decoy views would repeat images where the real view does \
                     not, which gives them away; give a decoy set with at least as many images \
                     of every class"
                )));
            }
        }
        Ok(Self { set, by_class })
    }

    /// For the samples of a set with `labels`, a donor image of the same class from the pool:
    /// the next image of a random within-class permutation of the pool, so that no donor
    /// repeats (a view that repeats images where the real one never does would give the decoys
    /// away; [`DecoyPool::new`] checked that every class has enough).
    pub fn assign(&self, labels: &[u8], rng: &mut impl Rng) -> Vec<u32> {
        let mut shuffled = self.by_class.clone();
        shuffled.iter_mut().for_each(|class| class.shuffle(rng));
        let mut used = vec![0usize; shuffled.len()];
        labels
            .iter()
            .map(|&label| {
                let class = &shuffled[label as usize];
                let donor = class[used[label as usize] % class.len()];
                used[label as usize] += 1;
                donor
            })
            .collect()
    }

    /// The pool's image `index`.
    pub fn image(&self, index: u32) -> &[f32] {
        self.set.sample(index as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amalgam_core::model::ImageShape;
    use amalgam_core::rng::{Stream, stream};

    fn image(channels: usize, side: usize) -> InputShape {
        InputShape::Image(ImageShape {
            channels,
            height: side,
            width: side,
        })
    }

    #[test]
    fn views_partition_the_grid_with_less_than_a_view_left() {
        let original = image(2, 28);
        let augmented = augmented_shape(original, 0.43).unwrap();
        let views = draw_views(
            original,
            augmented,
            2,
            &mut stream(3, Stream::NoisePositions),
        )
        .unwrap();
        for channel in 0..2 {
            let mut all: Vec<u32> = views.iter().flat_map(|v| v[channel].clone()).collect();
            assert!(views.iter().all(|v| v[channel].len() == 784));
            assert!(
                views
                    .iter()
                    .all(|v| v[channel].windows(2).all(|w| w[0] < w[1]))
            );
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), 2 * 784, "disjoint");
            assert!(augmented.positions() - all.len() < 784);
        }
        assert_ne!(views[0][0], views[0][1], "channels drawn independently");
    }

    #[test]
    fn donors_share_the_class_and_do_not_repeat_while_the_class_lasts() {
        let shape = ImageShape {
            channels: 1,
            height: 1,
            width: 1,
        };
        // Pool: 3 images of class 0, 5 of class 1; values name the pool index.
        let labels = vec![0, 1, 1, 0, 1, 1, 0, 1];
        let pool =
            ImageSet::new(shape, (0..8).map(|v| v as f32).collect(), labels.clone()).unwrap();
        let set_labels = [1u8, 1, 0, 1, 1, 0, 1, 0];
        let pool = DecoyPool::new(pool, &set_labels, InputShape::Image(shape), "pool").unwrap();
        let donors = pool.assign(&set_labels, &mut stream(1, Stream::DecoyInputs));
        for (&label, &d) in set_labels.iter().zip(&donors) {
            assert_eq!(labels[d as usize], label);
            assert_eq!(pool.image(d), [d as f32]);
        }
        let class_one: std::collections::BTreeSet<u32> = donors
            .iter()
            .zip(&set_labels)
            .filter(|(_, l)| **l == 1)
            .map(|(d, _)| *d)
            .collect();
        assert_eq!(
            class_one.len(),
            5,
            "five class-1 samples, five distinct donors"
        );
        let too_few = DecoyPool::new(
            ImageSet::new(shape, vec![0.0, 1.0], vec![0, 2]).unwrap(),
            &[0, 2, 2],
            InputShape::Image(shape),
            "small pool",
        );
        assert!(
            too_few
                .unwrap_err()
                .to_string()
                .contains("1 images of class 2, fewer than the data's 2")
        );
    }

    #[test]
    fn views_that_do_not_fit_name_the_amount_that_does() {
        let original = image(1, 28);
        for (amount, views) in [(0.25, 2), (1.0, 2), (0.43, 4)] {
            let augmented = augmented_shape(original, amount).unwrap();
            let err = draw_views(
                original,
                augmented,
                views,
                &mut stream(0, Stream::NoisePositions),
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains("--amount"), "{err}");
        }
        assert_eq!(fitting_amount(original, 2), Some(0.43));
        assert_eq!(fitting_amount(original, 4), Some(1.0));
        assert_eq!(fitting_amount(original, 1), Some(0.01));
    }
}
