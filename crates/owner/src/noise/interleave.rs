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

use std::sync::Arc;

use amalgam_core::data::{ImageSet, LabelledSet, TokenSet};
use amalgam_core::model::InputShape;
use amalgam_core::rng::{Stream, substream};
use amalgam_core::{Error, Result};
use rand::Rng;
use rand::seq::SliceRandom;

use super::{NoiseLayout, augmented_shape};

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

/// A kind of set whose samples can fill decoy views: images (f32 values) or token sequences
/// (u32 ids).
pub trait PoolSamples: LabelledSet {
    /// One value of a sample.
    type Value: Copy + Send + Sync;

    /// The values of sample `i`, flattened.
    fn values(&self, i: usize) -> &[Self::Value];
}

impl PoolSamples for ImageSet {
    type Value = f32;

    fn values(&self, i: usize) -> &[f32] {
        self.sample(i)
    }
}

impl PoolSamples for TokenSet {
    type Value = u32;

    fn values(&self, i: usize) -> &[u32] {
        self.sample(i)
    }
}

/// Where the decoy views' samples come from: one set (of the original shape), indexed by
/// class.
#[derive(Clone, Debug)]
pub struct DecoyPool<S> {
    set: S,
    by_class: Vec<Vec<u32>>,
}

impl<S: PoolSamples> DecoyPool<S> {
    /// Indexes `set` by class, checking that it has the shape of the data it will hide and at
    /// least `multiple` times as many samples of every class as `labels` (the data's labels)
    /// has (`name` names it in errors).
    ///
    /// # Errors
    /// [`Error::Invalid`] for another sample shape or a class with too few samples.
    pub fn new(
        set: S,
        labels: &[u8],
        shape: InputShape,
        name: &str,
        multiple: usize,
    ) -> Result<Self> {
        if set.input() != shape {
            return Err(Error::invalid(format!(
                "the decoy inputs {name} have samples of {}, the data {shape}",
                set.input()
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
            if held < multiple * count {
                return Err(Error::invalid(format!(
                    "the decoy inputs {name} hold {held} samples of class {class}, fewer than \
                     {multiple} x the data's {count}: every decoy view needs samples of its own \
                     (a view that repeats samples, or shares them with another view, where the \
                     real view does neither, gives the decoys away); give a decoy set with at \
                     least {multiple} times as many samples of every class, or use the owner's \
                     own set"
                )));
            }
        }
        Ok(Self { set, by_class })
    }

    /// For the samples of a set with `labels`, per decoy view (`views` of them), a donor of
    /// the same class from the pool, so that every sample appears equally often across all
    /// the views, the real one included (a view whose samples repeat, or recur in other views,
    /// where the real view's never do, would give the decoys away):
    ///
    /// - `own` (the pool is the data itself): each view is a random within-class permutation
    ///   of the data, drawn from `rng(view)`, so each sample appears once in every view, as in
    ///   the real one;
    /// - otherwise: one random within-class permutation of the pool, from `rng(0)`, cut into
    ///   disjoint runs, one per view, so each pool sample appears at most once in all
    ///   ([`DecoyPool::new`] checked that every class has `views` times enough).
    pub fn assign<R: Rng>(
        &self,
        labels: &[u8],
        views: usize,
        own: bool,
        rng: impl Fn(u64) -> R,
    ) -> Vec<Vec<u32>> {
        let shuffled = |rng: &mut R| {
            let mut classes = self.by_class.clone();
            classes.iter_mut().for_each(|class| class.shuffle(rng));
            classes
        };
        let mut count = vec![0usize; self.by_class.len()];
        for &label in labels {
            count[label as usize] += 1;
        }
        let once = (!own).then(|| shuffled(&mut rng(0)));
        (0..views)
            .map(|view| {
                let (classes, offset) = match &once {
                    Some(classes) => (classes.clone(), view),
                    None => (shuffled(&mut rng(view as u64)), 0),
                };
                let mut used = vec![0usize; classes.len()];
                labels
                    .iter()
                    .map(|&label| {
                        let class = label as usize;
                        let donor = classes[class][offset * count[class] + used[class]];
                        used[class] += 1;
                        donor
                    })
                    .collect()
            })
            .collect()
    }

    /// The values of the pool's sample `index`.
    pub fn sample(&self, index: u32) -> &[S::Value] {
        self.set.values(index as usize)
    }
}

/// The decoy branches' views for one split of a set: where each decoy's view is, and which
/// pool sample fills it for each sample of the split.
#[derive(Clone, Debug)]
pub struct DecoyViews<S> {
    /// Per decoy, per channel, the sorted positions of its view.
    pub keep_indices: Vec<Vec<Vec<u32>>>,
    /// Where the decoys' samples come from (the split matching the set augmented).
    pub pool: Arc<DecoyPool<S>>,
    /// Per decoy, per sample of the split, its donor sample in the pool
    /// ([`DecoyPool::assign`]).
    pub donors: Vec<Vec<u32>>,
    /// The `first_index` of the split's first sample (samples are numbered across splits).
    pub first_index: u64,
}

impl<S: PoolSamples> DecoyViews<S> {
    /// Prepares split `split` (0: train, 1: test) of a set with `labels` and sample `shape`,
    /// whose first sample has index `first_index`: indexes `pool_set` (named `name` in
    /// errors; `own` if it is the data itself) and assigns the decoys their donors
    /// ([`DecoyPool::assign`]) from sub-streams `2 * view + split` of [`Stream::DecoyInputs`]
    /// of `key_seed`.
    ///
    /// # Errors
    /// As [`DecoyPool::new`]: a separate pool needs K times the data's samples of every class.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pool_set: S,
        own: bool,
        labels: &[u8],
        shape: InputShape,
        name: &str,
        keep_indices: &[Vec<Vec<u32>>],
        key_seed: u64,
        split: u64,
        first_index: u64,
    ) -> Result<Self> {
        let views = keep_indices.len();
        let pool = DecoyPool::new(pool_set, labels, shape, name, if own { 1 } else { views })?;
        let donors = pool.assign(labels, views, own, |view| {
            substream(key_seed, Stream::DecoyInputs, view * 2 + split)
        });
        Ok(Self {
            keep_indices: keep_indices.to_vec(),
            pool: Arc::new(pool),
            donors,
            first_index,
        })
    }

    /// The donor samples of the split's sample numbered `index` (across splits), one per
    /// decoy.
    pub fn donors_of(&self, index: u64) -> Vec<&[S::Value]> {
        let sample = (index - self.first_index) as usize;
        self.donors
            .iter()
            .map(|donors| self.pool.sample(donors[sample]))
            .collect()
    }
}

/// Per channel, the sorted positions that neither `layout`'s keep indices nor any of the
/// decoy views read.
pub fn unread_positions(layout: &NoiseLayout, decoys: &[Vec<Vec<u32>>]) -> Vec<Vec<u32>> {
    let grid = layout.augmented.positions();
    (0..layout.keep_indices.len())
        .map(|c| {
            let mut read = vec![false; grid];
            for keep in std::iter::once(&layout.keep_indices).chain(decoys) {
                keep[c].iter().for_each(|&k| read[k as usize] = true);
            }
            (0..grid as u32).filter(|&p| !read[p as usize]).collect()
        })
        .collect()
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
    fn donors_share_the_class_and_every_sample_appears_equally_often() {
        let shape = ImageShape {
            channels: 1,
            height: 1,
            width: 1,
        };
        // Pool: 6 samples of class 0, 10 of class 1; values name the pool index.
        let labels: Vec<u8> = (0..16).map(|i| u8::from(i % 8 >= 3)).collect();
        let pool_set =
            ImageSet::new(shape, (0..16).map(|v| v as f32).collect(), labels.clone()).unwrap();
        let set_labels = [1u8, 1, 0, 1, 1, 0, 0, 1];
        let input = InputShape::Image(shape);
        let rng = |view| substream(1, Stream::DecoyInputs, view);

        // A separate pool: two views of disjoint donors of the right class.
        let pool = DecoyPool::new(pool_set.clone(), &set_labels, input, "pool", 2).unwrap();
        let donors = pool.assign(&set_labels, 2, false, rng);
        for view in &donors {
            for (&label, &d) in set_labels.iter().zip(view) {
                assert_eq!(labels[d as usize], label);
                assert_eq!(pool.sample(d), [d as f32]);
            }
        }
        let all: std::collections::BTreeSet<u32> = donors.concat().into_iter().collect();
        assert_eq!(all.len(), 16, "no donor twice across the views");

        // The owner's own set: every view a permutation of it.
        let own_set = pool_set.select(&(0..8).collect::<Vec<_>>());
        let own_labels = own_set.labels.clone();
        let own = DecoyPool::new(own_set, &own_labels, input, "own", 1).unwrap();
        for view in own.assign(&own_labels, 3, true, rng) {
            let mut sorted = view.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..8).collect::<Vec<u32>>());
            assert!(
                view.iter()
                    .zip(&own_labels)
                    .all(|(&d, &l)| own_labels[d as usize] == l)
            );
        }

        let too_few = DecoyPool::new(pool_set, &set_labels, input, "small pool", 3);
        assert!(
            too_few
                .unwrap_err()
                .to_string()
                .contains("fewer than 3 x the data's")
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
        // One view still needs at least one noise position.
        assert_eq!(fitting_amount(original, 1), Some(0.04));
    }
}
