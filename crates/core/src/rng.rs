//! Named, seeded random streams. Every random choice in amalgam comes from one of these, so
//! a run is reproducible from its seeds, and streams of the same seed are independent: the
//! batch order published in the bundle reveals nothing about the initial weights, and the key's
//! secrets do not depend on the training seed.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// What a random stream is used for. Each has its own ChaCha20 stream id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Order of the training samples in each epoch (sub-stream: epoch).
    BatchOrder = 1,
    /// Seed of the batch order published in the bundle's training config.
    BatchOrderSeed = 2,
    /// Initial weights of the original model.
    ModelInit = 3,
    /// The key's noise positions.
    NoisePositions = 4,
    /// Noise values (sub-stream: sample index).
    NoiseValues = 5,
    /// Position of the real branch among the decoys.
    BranchOrder = 6,
    /// Keep indices of the decoy sub-networks (sub-stream: decoy).
    DecoyKeepIndices = 7,
    /// Initial weights of the decoy sub-networks (sub-stream: decoy).
    DecoyInit = 8,
    /// Seed of the per-epoch crops and flips published in the training config.
    CropFlipSeed = 9,
    /// Per-epoch crops and flips (sub-stream: epoch and sample).
    CropFlip = 10,
    /// Architectures of the decoy sub-networks (sub-stream: decoy).
    DecoyArchitecture = 11,
    /// Which decoy input fills each sample's decoy view with interleave noise (sub-stream:
    /// decoy, then split).
    DecoyInputs = 12,
    /// Which samples the privacy audit's sweep gives the owner (sub-stream: key seed).
    AuditSamples = 13,
    /// PrivyNet: which channels of the local part's feature map the owner keeps.
    KeptChannels = 14,
    /// PrivyNet: the bundle's random identifier.
    BundleId = 15,
    /// Tempo: the secret input and output permutations of each offloaded layer (sub-stream:
    /// layer).
    TempoLayerPermutations = 16,
    /// Tempo: the fresh row permutation of each offloaded product (sub-stream: step and
    /// layer).
    TempoRowPermutations = 17,
    /// Tempo: the random vectors of Freivalds' checks (sub-stream: step and layer).
    FreivaldsVectors = 18,
}

/// The random stream `stream` of `seed`.
pub fn stream(seed: u64, stream: Stream) -> ChaCha20Rng {
    substream(seed, stream, 0)
}

/// Sub-stream `index` (an epoch, a sample, a decoy; below 2^40) of stream `stream` of `seed`.
pub fn substream(seed: u64, stream: Stream, index: u64) -> ChaCha20Rng {
    debug_assert!(index < 1 << 40);
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(((stream as u64) << 40) | index);
    rng
}
