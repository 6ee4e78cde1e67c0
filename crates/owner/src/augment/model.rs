//! The model augmenter: hides the original network among decoy sub-networks.

use amalgam_core::bundle::{AugmentedSpec, BranchSpec, Precision, branch_prefix};
use amalgam_core::model::{InputShape, ModelSpec, SPEC_FORMAT_VERSION, Weights, initial_weights};
use amalgam_core::rng::{Stream, stream, substream};
use rand::Rng;

use super::family::{DecoyArchitecture, family_member};

/// The augmented network and the secret of where its real branch is.
#[derive(Clone, Debug)]
pub struct AugmentedModel {
    /// The spec that goes into the bundle.
    pub spec: AugmentedSpec,
    /// Initial weights of all branches (`branches.{i}.{param}`).
    pub init: Weights,
    /// Index of the real branch (goes into the key only).
    pub real_branch: usize,
}

/// Builds the augmented network for samples of shape `augmented`: the real branch (keep
/// indices `keep_indices`, the original
/// `spec` and its initial weights `init`) and one decoy sub-network per entry of
/// `decoy_keep_indices`, in a random order.
///
/// Each decoy has the given keep indices, its own architecture (the original one for
/// [`DecoyArchitecture::Clone`], as in the authors' prototype, or a member of its family) and
/// its own initial weights: sub-streams `d` of [`Stream::DecoyArchitecture`] and
/// [`Stream::DecoyInit`] of `key_seed`. The real branch's position is drawn from
/// [`Stream::BranchOrder`].
pub fn augment_model(
    augmented: InputShape,
    spec: &ModelSpec,
    init: &Weights,
    keep_indices: &[Vec<u32>],
    decoy_keep_indices: Vec<Vec<Vec<u32>>>,
    decoy_architecture: DecoyArchitecture,
    key_seed: u64,
) -> AugmentedModel {
    let decoys = decoy_keep_indices.len();
    let real_branch = stream(key_seed, Stream::BranchOrder).random_range(0..=decoys);
    let mut branches = Vec::with_capacity(decoys + 1);
    let mut branch_weights = Vec::with_capacity(decoys + 1);
    for (d, decoy_keep) in (0..).zip(decoy_keep_indices) {
        let network = match decoy_architecture {
            DecoyArchitecture::Clone => spec.clone(),
            DecoyArchitecture::Family => ModelSpec {
                architecture: family_member(
                    &spec.architecture,
                    &mut substream(key_seed, Stream::DecoyArchitecture, d),
                ),
                ..spec.clone()
            },
        };
        branch_weights.push(initial_weights(
            &network,
            &mut substream(key_seed, Stream::DecoyInit, d),
        ));
        branches.push(BranchSpec {
            keep_indices: decoy_keep,
            network,
        });
    }
    branches.insert(
        real_branch,
        BranchSpec {
            keep_indices: keep_indices.to_vec(),
            network: spec.clone(),
        },
    );
    branch_weights.insert(real_branch, init.clone());
    let init = branch_weights
        .into_iter()
        .enumerate()
        .flat_map(|(i, weights)| {
            weights
                .into_iter()
                .map(move |(name, t)| (format!("{}{name}", branch_prefix(i)), t))
        })
        .collect();
    AugmentedModel {
        spec: AugmentedSpec {
            format_version: SPEC_FORMAT_VERSION,
            input: augmented,
            classes: spec.classes,
            branches,
            bundle_id: None,
            precision: Precision::F32,
        },
        init,
        real_branch,
    }
}
