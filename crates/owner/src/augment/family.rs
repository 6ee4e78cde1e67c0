//! Decoy architectures drawn from the real model's family, so that the cloud sees K + 1
//! different, plausible networks rather than K + 1 clones (the authors' prototype).
//!
//! | family | what varies (each draw independent) |
//! | --- | --- |
//! | MLP | depth: the real one, or one layer more or fewer (1 to 4); each width: a real width x 0.5, 0.75, 1, 1.5 or 2 (multiples of 8) |
//! | LeNet | conv channels x 0.5, 1, 1.5 or 2; hidden widths x 0.5, 0.75, 1 or 1.5 |
//! | ResNet | blocks per stage: the real count -1, 0 or +1 (at least 1); all widths x 0.5, 0.75, 1, 1.25 or 1.5 (multiples of 4); same stage count |
//! | VGG | the stage layout of VGG-11, -13 or -16; widths x 0.5, 0.75 or 1 (multiples of 8) |

use amalgam_core::model::Architecture;
use rand::Rng;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};

/// How the decoy sub-networks get their architecture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecoyArchitecture {
    /// The real architecture (the authors' prototype).
    Clone,
    /// A random member of the real architecture's family (see the module docs).
    #[default]
    Family,
}

/// `width * factor`, rounded to a multiple of `multiple`, at least `multiple`.
fn scale(width: usize, factor: f64, multiple: usize) -> usize {
    (((width as f64 * factor) / multiple as f64).round() as usize).max(1) * multiple
}

/// VGG-11, -13 and -16 stage layouts (convs per stage; widths 64, 128, 256, 512, 512).
const VGG_LAYOUTS: [[usize; 5]; 3] = [[1, 1, 2, 2, 2], [2, 2, 2, 2, 2], [2, 2, 3, 3, 3]];
const VGG_WIDTHS: [usize; 5] = [64, 128, 256, 512, 512];

/// A random member of `real`'s family.
pub fn family_member(real: &Architecture, rng: &mut impl Rng) -> Architecture {
    match real {
        Architecture::Mlp { hidden } => {
            let depth = (hidden.len() as i64 + rng.random_range(-1..=1)).clamp(1, 4) as usize;
            let widths = (0..depth)
                .map(|i| {
                    let base = hidden[i.min(hidden.len() - 1)];
                    scale(
                        base,
                        *[0.5, 0.75, 1.0, 1.5, 2.0].choose(rng).expect("non-empty"),
                        8,
                    )
                })
                .collect();
            Architecture::Mlp { hidden: widths }
        }
        Architecture::Lenet { channels, hidden } => {
            let c = *[0.5, 1.0, 1.5, 2.0].choose(rng).expect("non-empty");
            let h = *[0.5, 0.75, 1.0, 1.5].choose(rng).expect("non-empty");
            Architecture::Lenet {
                channels: channels.map(|w| scale(w, c, 2)),
                hidden: hidden.map(|w| scale(w, h, 4)),
            }
        }
        Architecture::Resnet { blocks, widths } => {
            let f = *[0.5, 0.75, 1.0, 1.25, 1.5].choose(rng).expect("non-empty");
            Architecture::Resnet {
                blocks: blocks
                    .iter()
                    .map(|&b| (b as i64 + rng.random_range(-1..=1)).max(1) as usize)
                    .collect(),
                widths: widths.iter().map(|&w| scale(w, f, 4)).collect(),
            }
        }
        Architecture::Vgg { .. } => {
            let layout = VGG_LAYOUTS.choose(rng).expect("non-empty");
            let f = *[0.5, 0.75, 1.0].choose(rng).expect("non-empty");
            Architecture::Vgg {
                stages: layout
                    .iter()
                    .zip(VGG_WIDTHS)
                    .map(|(&convs, width)| vec![scale(width, f, 8); convs])
                    .collect(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amalgam_core::model::{ImageShape, ModelSpec};
    use amalgam_core::rng::{Stream, substream};
    use std::collections::BTreeSet;

    #[test]
    fn family_members_are_valid_and_varied() {
        let input = ImageShape {
            channels: 3,
            height: 32,
            width: 32,
        };
        for real in [
            Architecture::default_mlp(),
            Architecture::lenet(),
            Architecture::resnet20(),
            Architecture::resnet18(),
            Architecture::vgg11(),
        ] {
            let members: BTreeSet<String> = (0..12)
                .map(|d| {
                    let member =
                        family_member(&real, &mut substream(1, Stream::DecoyArchitecture, d));
                    ModelSpec::new(member.clone(), input, 10).expect("a valid member");
                    assert_eq!(
                        std::mem::discriminant(&member),
                        std::mem::discriminant(&real)
                    );
                    serde_json::to_string(&member).unwrap()
                })
                .collect();
            assert!(
                members.len() >= 4,
                "{real:?}: only {} distinct members",
                members.len()
            );
        }
    }
}
