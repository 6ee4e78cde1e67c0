//! One node's side of the Sphinx packet format (Danezis & Goldberg 2009, as the
//! `sphinx-packet` crate implements it): peel a packet, refuse replays, and send replies with
//! the single-use reply blocks (SURBs) the owner made.

use std::collections::HashSet;
use std::net::SocketAddr;

use sphinx_packet::header::delays::Delay;
use sphinx_packet::{ProcessedPacketData, SURB, SphinxPacket};

use super::address::decode_address;
use super::keys::NodeKey;
use super::packet::{IDENTIFIER_BYTES, PAYLOAD_BYTES, check_packet_length};
use crate::{Error, Result};

/// What peeling a packet gave.
pub enum Processed {
    /// Forward `packet` (the next hop's packet, same size) to `next`.
    Forward {
        /// The next hop's address.
        next: SocketAddr,
        /// The packet for it.
        packet: Vec<u8>,
    },
    /// This node is the destination: the identifier and the plaintext.
    Final {
        /// The identifier the route's maker put in the header.
        identifier: [u8; IDENTIFIER_BYTES],
        /// The payload's plaintext.
        plaintext: Vec<u8>,
    },
}

/// Most replay tags a node remembers (32 bytes each: 1 GiB at most). A node that sees more
/// packets than this refuses all further ones: restart it with a fresh key.
pub const MAX_REPLAY_TAGS: usize = 1 << 25;

/// A node's key and the replay tags of the packets it has peeled.
pub struct SphinxNode {
    key: NodeKey,
    seen: HashSet<[u8; 32]>,
}

impl SphinxNode {
    /// A node with `key` that has seen nothing.
    pub fn new(key: NodeKey) -> Self {
        Self {
            key,
            seen: HashSet::new(),
        }
    }

    /// Peels `bytes` (one packet).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a packet of the wrong size, a header whose MAC fails (tampered,
    /// or built for another key), a replay (a packet peeled before: same shared secret), a
    /// payload that fails its integrity check at the destination, or an undecodable next hop.
    pub fn process(&mut self, bytes: &[u8]) -> Result<Processed> {
        let bad = |what: String| Error::invalid(format!("packet refused: {what}"));
        check_packet_length(bytes)?;
        let packet = SphinxPacket::from_bytes(bytes).map_err(|e| bad(e.to_string()))?;
        let secret = packet
            .header
            .compute_expanded_shared_secret(&self.key.secret);
        packet
            .header
            .ensure_header_integrity(&secret)
            .map_err(|e| bad(format!("header: {e}")))?;
        let tag = *secret.replay_tag();
        if self.seen.contains(&tag) {
            return Err(bad("replayed (seen before)".into()));
        }
        if self.seen.len() >= MAX_REPLAY_TAGS {
            return Err(bad(
                "replay memory full; restart the node with a fresh key".into()
            ));
        }
        self.seen.insert(tag);
        let processed = packet
            .process_with_expanded_secret(&secret)
            .map_err(|e| bad(e.to_string()))?;
        match processed.data {
            ProcessedPacketData::ForwardHop {
                next_hop_packet,
                next_hop_address,
                ..
            } => Ok(Processed::Forward {
                next: decode_address(next_hop_address.as_bytes())?,
                packet: next_hop_packet.to_bytes(),
            }),
            ProcessedPacketData::FinalHop {
                identifier,
                payload,
                ..
            } => Ok(Processed::Final {
                identifier,
                plaintext: payload
                    .recover_plaintext()
                    .map_err(|e| bad(format!("payload integrity: {e}")))?,
            }),
        }
    }
}

/// No mixing delay: the mix nodes forward as soon as they have peeled (or when their batch
/// is full, see `amalgam mixnn mix-node --batch`).
pub const NO_DELAY: Delay = Delay::new_from_nanos(0);

/// Sends `plaintext` with the reply block `surb` (bytes): the packet and where to send it.
///
/// # Errors
/// [`Error::Invalid`] for a malformed reply block or a plaintext too long for one packet.
pub fn use_surb(surb: &[u8], plaintext: &[u8]) -> Result<(SocketAddr, Vec<u8>)> {
    let bad = |e: sphinx_packet::Error| Error::invalid(format!("reply block: {e}"));
    let surb = SURB::from_bytes(surb).map_err(bad)?;
    let (packet, first) = surb.use_surb(plaintext, PAYLOAD_BYTES).map_err(bad)?;
    Ok((decode_address(first.as_bytes())?, packet.to_bytes()))
}
