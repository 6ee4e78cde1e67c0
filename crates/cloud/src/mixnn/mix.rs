//! A mix node: peels its layer of each packet (refusing replays and tampered headers) and
//! forwards it to the next hop, which is all it learns. With a batch size above one it holds
//! packets back and sends each batch in random order (a threshold mix, Chaum 1981).

use rand::seq::SliceRandom;

use amalgam_core::mixnn::packet::PACKET_BYTES;
use amalgam_core::mixnn::{NodeKey, Processed, SphinxNode};
use amalgam_core::{Error, Result};

use super::serve::{Outgoing, PacketHandler};

/// A misbehaviour injected for the fault tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Flip a byte of the payload of the n-th packet forwarded (from 1).
    Tamper(u64),
    /// Send the n-th packet forwarded (from 1) twice.
    Replay(u64),
}

/// A mix node.
pub struct MixNode {
    node: SphinxNode,
    batch: usize,
    fault: Option<Fault>,
    forwarded: u64,
    held: Outgoing,
}

impl MixNode {
    /// A mix with `key` that sends batches of `batch` packets (1: each at once).
    pub fn new(key: NodeKey, batch: usize, fault: Option<Fault>) -> Self {
        Self {
            node: SphinxNode::new(key),
            batch: batch.max(1),
            fault,
            forwarded: 0,
            held: Vec::new(),
        }
    }
}

impl PacketHandler for MixNode {
    fn handle(&mut self, packet: &[u8]) -> Result<Outgoing> {
        let Processed::Forward { next, mut packet } = self.node.process(packet)? else {
            return Err(Error::invalid("a mix node is never a packet's destination"));
        };
        self.forwarded += 1;
        match self.fault {
            Some(Fault::Tamper(n)) if n == self.forwarded => {
                packet[PACKET_BYTES - 1] ^= 0x55;
                eprintln!("fault injected: tampered with packet {n}");
            }
            Some(Fault::Replay(n)) if n == self.forwarded => {
                self.held.push((next, packet.clone()));
                eprintln!("fault injected: replayed packet {n}");
            }
            _ => {}
        }
        self.held.push((next, packet));
        if self.held.len() >= self.batch {
            return Ok(self.flush());
        }
        Ok(Vec::new())
    }

    fn flush(&mut self) -> Outgoing {
        let mut out = std::mem::take(&mut self.held);
        out.shuffle(&mut rand::rng());
        out
    }
}
