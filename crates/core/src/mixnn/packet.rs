//! Messages as fixed-size packets: a message is cut into **chunks** that each fill one Sphinx
//! payload, data messages are padded to the same number of chunks, and each chunk is
//! authenticated by the Sphinx identifier its packet carries to the final hop.
//!
//! A chunk's plaintext is a 32-byte header (magic `AMXN`, version, kind, step, attempt, index,
//! count, body length; little-endian) and its body. The **identifier** of chunk `index` of a
//! message is the first 16 bytes of HMAC-SHA256 under the receiver's session key of the
//! header fields: only the owner, who made every route, and the receiver can compute it, so a
//! mix or another host cannot inject a chunk, and a chunk cannot be moved to another message
//! or replayed into a later one. (Reconstruction: the paper gives no packet format.)

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use sphinx_packet::header::HEADER_SIZE;
use sphinx_packet::payload::PAYLOAD_OVERHEAD_SIZE;

use crate::{Error, Result};

/// Bytes of every packet's Sphinx payload.
pub const PAYLOAD_BYTES: usize = 32 * 1024;
/// Bytes of every packet on every link: the Sphinx header and the payload.
pub const PACKET_BYTES: usize = HEADER_SIZE + PAYLOAD_BYTES;
/// Bytes of a chunk's header.
pub const CHUNK_HEADER_BYTES: usize = 32;
/// Largest chunk body.
pub const CHUNK_BODY_BYTES: usize = PAYLOAD_BYTES - PAYLOAD_OVERHEAD_SIZE - CHUNK_HEADER_BYTES;
/// Most chunks in one message (1 GiB of body).
pub const MAX_CHUNKS: u32 = (1 << 30) / CHUNK_BODY_BYTES as u32;
/// Bytes of a Sphinx identifier.
pub const IDENTIFIER_BYTES: usize = 16;
/// Bytes of a session key.
pub const SESSION_KEY_BYTES: usize = 32;

const MAGIC: &[u8; 4] = b"AMXN";
const VERSION: u8 = 1;

/// What a message is (see [`super::Message`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// Owner → host: the layer, its weights and the session key.
    Setup = 1,
    /// Owner → host: the reply blocks and learning rate of one step.
    Plan = 2,
    /// Activations towards the next layer (the owner's input batch, a host's output, the
    /// logits to the owner).
    Forward = 3,
    /// Gradients towards the previous layer.
    Backward = 4,
    /// First host → owner: the step's backward pass is done.
    Stepped = 5,
    /// Owner → host: send back the layer.
    Fetch = 6,
    /// Host → owner: the layer and its optimizer state.
    State = 7,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            1 => Kind::Setup,
            2 => Kind::Plan,
            3 => Kind::Forward,
            4 => Kind::Backward,
            5 => Kind::Stepped,
            6 => Kind::Fetch,
            7 => Kind::State,
            _ => return None,
        })
    }
}

/// Which message a chunk belongs to: its kind, the training step and the attempt at it (a step
/// whose packets were lost is tried again with fresh routes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slot {
    /// Kind of message.
    pub kind: Kind,
    /// Training step (from 0 over the whole run).
    pub step: u64,
    /// Attempt at the step (from 0); for a setup, a random nonce that tells apart the setups
    /// of owner sessions starting at the same step.
    pub attempt: u32,
}

/// One packet's plaintext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The message it belongs to.
    pub slot: Slot,
    /// Its place in the message, `0..count`.
    pub index: u32,
    /// Chunks in the message.
    pub count: u32,
    /// Its share of the message's bytes (empty for padding chunks).
    pub body: Vec<u8>,
}

impl Chunk {
    /// The plaintext bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(CHUNK_HEADER_BYTES + self.body.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&[VERSION, self.slot.kind as u8, 0, 0]);
        bytes.extend_from_slice(&self.slot.step.to_le_bytes());
        bytes.extend_from_slice(&self.slot.attempt.to_le_bytes());
        bytes.extend_from_slice(&self.index.to_le_bytes());
        bytes.extend_from_slice(&self.count.to_le_bytes());
        bytes.extend_from_slice(&(self.body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// Parses a plaintext.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let bad = |what: &str| Error::invalid(format!("bad chunk: {what}"));
        if bytes.len() < CHUNK_HEADER_BYTES {
            return Err(bad("shorter than its header"));
        }
        if &bytes[..4] != MAGIC || bytes[4] != VERSION {
            return Err(bad("wrong magic or version"));
        }
        let kind = Kind::from_byte(bytes[5]).ok_or_else(|| bad("unknown kind"))?;
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4"));
        let step = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
        let (attempt, index, count, len) = (u32_at(16), u32_at(20), u32_at(24), u32_at(28));
        if count == 0 || count > MAX_CHUNKS || index >= count {
            return Err(bad("index or count out of range"));
        }
        let body = &bytes[CHUNK_HEADER_BYTES..];
        if body.len() != len as usize || body.len() > CHUNK_BODY_BYTES {
            return Err(bad("body length disagrees with the header"));
        }
        Ok(Self {
            slot: Slot {
                kind,
                step,
                attempt,
            },
            index,
            count,
            body: body.to_vec(),
        })
    }

    /// The chunks of `message` for `slot`, padded with empty chunks to at least `min_count`.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the message needs more than [`MAX_CHUNKS`] chunks.
    pub fn split(slot: Slot, message: &[u8], min_count: u32) -> Result<Vec<Chunk>> {
        let needed = message.len().div_ceil(CHUNK_BODY_BYTES).max(1);
        if needed > MAX_CHUNKS as usize {
            return Err(Error::invalid(format!(
                "a message of {} bytes is over the {MAX_CHUNKS}-packet limit",
                message.len()
            )));
        }
        let count = (needed as u32).max(min_count);
        let mut pieces = message.chunks(CHUNK_BODY_BYTES);
        Ok((0..count)
            .map(|index| Chunk {
                slot,
                index,
                count,
                body: pieces.next().unwrap_or_default().to_vec(),
            })
            .collect())
    }
}

/// Chunks needed for a message of `bytes` bytes.
pub fn chunks_for(bytes: usize) -> u32 {
    bytes.div_ceil(CHUNK_BODY_BYTES).max(1) as u32
}

/// The identifier of chunk `index` of message `slot` under the receiver's session `key`.
pub fn identifier(key: &[u8; SESSION_KEY_BYTES], slot: Slot, index: u32) -> [u8; IDENTIFIER_BYTES] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(MAGIC);
    mac.update(&[slot.kind as u8]);
    mac.update(&slot.step.to_le_bytes());
    mac.update(&slot.attempt.to_le_bytes());
    mac.update(&index.to_le_bytes());
    let tag = mac.finalize().into_bytes();
    tag[..IDENTIFIER_BYTES].try_into().expect("16 of 32 bytes")
}

/// Most bytes of partial messages an [`Assembler`] holds.
pub const MAX_PENDING_BYTES: usize = 1 << 30;

/// Reassembles messages from their chunks, in any order.
#[derive(Default)]
pub struct Assembler {
    partial: HashMap<Slot, Vec<Option<Vec<u8>>>>,
    bytes: usize,
}

impl Assembler {
    /// Adds `chunk`; returns the message's bytes when it is the last one missing.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a chunk seen before (a replay), a count that disagrees with the
    /// message's other chunks, or more than [`MAX_PENDING_BYTES`] pending.
    pub fn add(&mut self, chunk: Chunk) -> Result<Option<(Slot, Vec<u8>)>> {
        if self.bytes + chunk.body.len() > MAX_PENDING_BYTES {
            return Err(Error::invalid(
                "too many partial messages pending; chunk dropped",
            ));
        }
        let parts = self
            .partial
            .entry(chunk.slot)
            .or_insert_with(|| vec![None; chunk.count as usize]);
        if parts.len() != chunk.count as usize {
            return Err(Error::invalid(format!(
                "{:?}: chunk count {} disagrees with {}",
                chunk.slot,
                chunk.count,
                parts.len()
            )));
        }
        let part = &mut parts[chunk.index as usize];
        if part.is_some() {
            return Err(Error::invalid(format!(
                "{:?}: chunk {} seen before (replayed)",
                chunk.slot, chunk.index
            )));
        }
        self.bytes += chunk.body.len();
        *part = Some(chunk.body);
        if parts.iter().any(Option::is_none) {
            return Ok(None);
        }
        let parts = self.partial.remove(&chunk.slot).expect("present");
        let message: Vec<u8> = parts.into_iter().flatten().flatten().collect();
        self.bytes -= message.len();
        Ok(Some((chunk.slot, message)))
    }

    /// Drops the partial messages that `keep` refuses (e.g. those of finished steps).
    pub fn retain(&mut self, keep: impl Fn(&Slot) -> bool) {
        self.partial.retain(|slot, _| keep(slot));
        self.bytes = self
            .partial
            .values()
            .flatten()
            .flatten()
            .map(Vec::len)
            .sum();
    }
}

/// Checks that `bytes` is one whole packet.
///
/// # Errors
/// [`Error::Invalid`] for any other length.
pub fn check_packet_length(bytes: &[u8]) -> Result<()> {
    if bytes.len() != PACKET_BYTES {
        return Err(Error::invalid(format!(
            "a packet of {} bytes; every packet is {PACKET_BYTES}",
            bytes.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn slot() -> Slot {
        Slot {
            kind: Kind::Forward,
            step: 7,
            attempt: 1,
        }
    }

    #[test]
    fn messages_survive_their_chunks_in_any_order_and_replays_are_refused() {
        let message: Vec<u8> = (0..3 * CHUNK_BODY_BYTES + 5).map(|i| i as u8).collect();
        let mut chunks = Chunk::split(slot(), &message, 6).unwrap();
        assert_eq!(chunks.len(), 6);
        chunks.reverse();
        let mut assembler = Assembler::default();
        let mut done = None;
        for chunk in chunks.clone() {
            let decoded = Chunk::decode(&chunk.encode()).unwrap();
            assert_eq!(decoded, chunk);
            if let Some(m) = assembler.add(decoded).unwrap() {
                done = Some(m);
            }
        }
        assert_eq!(done, Some((slot(), message)));
        assembler.add(chunks[0].clone()).unwrap();
        assert!(assembler.add(chunks[0].clone()).is_err());
    }

    #[test]
    fn identifiers_depend_on_key_slot_and_index() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let id = identifier(&a, slot(), 0);
        assert_ne!(id, identifier(&b, slot(), 0));
        assert_ne!(id, identifier(&a, slot(), 1));
        let later = Slot { step: 8, ..slot() };
        assert_ne!(id, identifier(&a, later, 0));
    }

    proptest! {
        #[test]
        fn arbitrary_plaintexts_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Chunk::decode(&bytes);
        }
    }
}
