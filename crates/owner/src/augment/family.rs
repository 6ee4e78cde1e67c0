//! Decoy architectures drawn from the real model's family, so that the cloud sees K + 1
//! different, plausible networks rather than K + 1 clones (the authors' prototype).
//!
//! | family | what varies (each draw independent) |
//! | --- | --- |
//! | MLP | depth: the real one, or one layer more or fewer (1 to 4); each width: a real width x 0.5, 0.75, 1, 1.5 or 2 (multiples of 8) |
//! | LeNet | conv channels x 0.5, 1, 1.5 or 2; hidden widths x 0.5, 0.75, 1 or 1.5 |
//! | ResNet | blocks per stage: the real count -1, 0 or +1 (at least 1); all widths x 0.5, 0.75, 1, 1.25 or 1.5 (multiples of 4); same stage count |
//! | VGG | the stage layout of VGG-11, -13 or -16; widths x 0.5, 0.75 or 1 (multiples of 8) |
//! | bag of embeddings | embedding width x 0.5, 0.75, 1, 1.5 or 2 (multiples of 8) |
//! | TextCNN | embedding width as above; each convolution width the real one -2, -1 or +0 (at least 1, so it fits any sequence the real one fits); filters x 0.5, 0.75, 1 or 1.5 |
//! | GRU | embedding and state widths, each x 0.5, 0.75, 1, 1.5 or 2 |
//! | Transformer | width x 0.5, 1 or 1.5 (multiples of 8); 2 or 4 heads; layers the real count -1, 0 or +1 (at least 1); feed-forward x 1, 2 or 4 of the new width |

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

/// `width` times a random factor 0.5, 0.75, 1, 1.5 or 2, a multiple of 8.
fn widen(width: usize, rng: &mut impl Rng) -> usize {
    let factor = *[0.5, 0.75, 1.0, 1.5, 2.0].choose(rng).expect("non-empty");
    scale(width, factor, 8)
}

/// A random member of `real`'s family.
pub fn family_member(real: &Architecture, rng: &mut impl Rng) -> Architecture {
    match real {
        Architecture::Mlp { hidden } => {
            let depth = (hidden.len() as i64 + rng.random_range(-1..=1)).clamp(1, 4) as usize;
            let widths = (0..depth)
                .map(|i| {
                    let base = hidden[i.min(hidden.len() - 1)];
                    widen(base, rng)
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
        Architecture::Bag { embedding } => Architecture::Bag {
            embedding: widen(*embedding, rng),
        },
        Architecture::TextCnn {
            embedding,
            widths,
            filters,
        } => {
            let f = *[0.5, 0.75, 1.0, 1.5].choose(rng).expect("non-empty");
            Architecture::TextCnn {
                embedding: widen(*embedding, rng),
                widths: widths
                    .iter()
                    .map(|&w| w.saturating_sub(rng.random_range(0..=2)).max(1))
                    .collect(),
                filters: scale(*filters, f, 8),
            }
        }
        Architecture::Gru { embedding, hidden } => Architecture::Gru {
            embedding: widen(*embedding, rng),
            hidden: widen(*hidden, rng),
        },
        Architecture::Transformer {
            embedding,
            layers,
            feed_forward: _,
            heads: _,
        } => {
            let width = scale(
                *embedding,
                *[0.5, 1.0, 1.5].choose(rng).expect("non-empty"),
                8,
            );
            Architecture::Transformer {
                embedding: width,
                heads: *[2, 4].choose(rng).expect("non-empty"),
                layers: (*layers as i64 + rng.random_range(-1..=1)).max(1) as usize,
                feed_forward: width * *[1, 2, 4].choose(rng).expect("non-empty"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amalgam_core::model::{ImageShape, InputShape, ModelSpec, TokenShape};
    use amalgam_core::rng::{Stream, substream};
    use std::collections::BTreeSet;

    #[test]
    fn family_members_are_valid_and_varied() {
        let image = InputShape::Image(ImageShape {
            channels: 3,
            height: 32,
            width: 32,
        });
        let text = InputShape::Tokens(TokenShape {
            length: 5,
            vocab_size: 100,
        });
        for (real, input) in [
            (Architecture::default_mlp(), image),
            (Architecture::lenet(), image),
            (Architecture::resnet20(), image),
            (Architecture::resnet18(), image),
            (Architecture::vgg11(), image),
            (Architecture::bag(), text),
            (Architecture::text_cnn(), text),
            (Architecture::gru(), text),
            (Architecture::transformer(), text),
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
