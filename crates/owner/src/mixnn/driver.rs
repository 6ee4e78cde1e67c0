//! The owner's end of the mix network: it sends messages to the hosts over random routes,
//! hands out reply blocks, and gathers the messages that come back to it (checking that each
//! chunk carries the identifier the owner put in its reply block).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use amalgam_core::mixnn::packet::{Assembler, Kind, Slot, identifier};
use amalgam_core::mixnn::{Chunk, Inbox, Links, Message, NodeKey, Processed, SphinxNode, links};
use amalgam_core::{Error, Result};
use sphinx_packet::route::Node;

use super::routes::{Endpoint, Router};

/// Packets the owner sent and reply blocks it handed out, which together are every packet
/// of the run (each crosses `route_mixes + 1` links).
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub sent: u64,
    pub reply_blocks: u64,
}

/// Where a message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum To {
    Host(usize),
    Owner,
}

pub struct Driver {
    links: Links,
    inbox: Inbox,
    node: SphinxNode,
    me: Endpoint,
    hosts: Vec<Endpoint>,
    router: Router,
    assembler: Assembler,
    /// Whole messages that came while the owner waited for another.
    stash: HashMap<Slot, Vec<u8>>,
    /// The key set-ups are authenticated with (the hosts' `--owner-key`; zeros without one).
    owner_key: [u8; 32],
    pub counts: Counts,
}

/// Most whole messages kept while the owner waits for another.
const MAX_STASHED: usize = 64;

impl Driver {
    /// Listens on `listen` and routes through `router` to `hosts` (nodes with fresh session
    /// keys); set-ups carry identifiers made with `owner_key`.
    ///
    /// # Errors
    /// [`Error::Connection`] if `listen` cannot be bound.
    pub fn new(
        listen: &str,
        router: Router,
        hosts: Vec<(Node, std::net::SocketAddr)>,
        owner_key: Option<[u8; 32]>,
    ) -> Result<Self> {
        let (links, inbox, address) = links::listen(listen, "owner")?;
        let key = NodeKey::random();
        let me = Endpoint {
            node: Node::new(
                amalgam_core::mixnn::address::node_address(address),
                key.public,
            ),
            address,
            key: rand::random(),
        };
        Ok(Self {
            links,
            inbox,
            node: SphinxNode::new(key),
            me,
            hosts: hosts
                .into_iter()
                .map(|(node, address)| Endpoint {
                    node,
                    address,
                    key: rand::random(),
                })
                .collect(),
            router,
            assembler: Assembler::default(),
            stash: HashMap::new(),
            owner_key: owner_key.unwrap_or_default(),
            counts: Counts::default(),
        })
    }

    fn endpoint(&self, to: To) -> &Endpoint {
        match to {
            To::Host(i) => &self.hosts[i],
            To::Owner => &self.me,
        }
    }

    /// Host `i`'s session key (sent in its setup).
    pub fn host_key(&self, i: usize) -> [u8; 32] {
        self.hosts[i].key
    }

    /// Gives host `i` a fresh session key (a new session, e.g. after a restart).
    pub fn renew_host_key(&mut self, i: usize) {
        self.hosts[i].key = rand::random();
    }

    /// Sends `message` as `slot` to `to`, padded to `min_packets` packets.
    ///
    /// # Errors
    /// [`Error::Invalid`] if the message is too large.
    pub fn send(&mut self, to: To, slot: Slot, message: &Message, min_packets: u32) -> Result<()> {
        let chunks = Chunk::split(slot, &message.encode(), min_packets)?;
        let mut endpoint = self.endpoint(to).clone();
        if slot.kind == Kind::Setup {
            endpoint.key = self.owner_key;
        }
        for chunk in &chunks {
            let (first, packet) = self.router.packet(&endpoint, chunk)?;
            self.links.send(first, packet);
            self.counts.sent += 1;
        }
        Ok(())
    }

    /// `count` reply blocks for message `slot` to `to`.
    ///
    /// # Errors
    /// As [`Router::reply_blocks`].
    pub fn reply_blocks(&mut self, to: To, slot: Slot, count: u32) -> Result<Vec<Vec<u8>>> {
        self.counts.reply_blocks += u64::from(count);
        self.router.reply_blocks(self.endpoint(to), slot, count)
    }

    /// The message `slot` once all its chunks have come, or `None` after `limit`. Other
    /// whole messages are kept for a later wait (a few; late answers to an abandoned attempt
    /// are dropped by [`forget_before`](Self::forget_before)); refused packets are logged.
    pub fn wait_for(&mut self, slot: Slot, limit: Duration) -> Option<Message> {
        let deadline = Instant::now() + limit;
        let mut found = self.stash.remove(&slot);
        while found.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            let packet = self.inbox.receive(left)?;
            match self.take(&packet) {
                Ok(Some((s, bytes))) if s == slot => found = Some(bytes),
                Ok(Some((s, bytes))) if self.stash.len() < MAX_STASHED => {
                    self.stash.insert(s, bytes);
                }
                Ok(_) => {}
                Err(e) => eprintln!("owner: rejected packet: {e}"),
            }
        }
        Message::decode(&found?)
            .map_err(|e| eprintln!("owner: {slot:?} refused: {e}"))
            .ok()
    }

    fn take(&mut self, packet: &[u8]) -> Result<Option<(Slot, Vec<u8>)>> {
        let Processed::Final {
            identifier: id,
            plaintext,
        } = self.node.process(packet)?
        else {
            return Err(Error::invalid("the owner does not forward packets"));
        };
        let chunk = Chunk::decode(&plaintext)?;
        if id != identifier(&self.me.key, chunk.slot, chunk.index) {
            return Err(Error::invalid(format!(
                "{:?}: chunk {} does not carry the owner's identifier",
                chunk.slot, chunk.index
            )));
        }
        self.assembler.add(chunk)
    }

    /// Drops partial messages of steps before `step`.
    pub fn forget_before(&mut self, step: u64) {
        self.assembler.retain(|s| s.step >= step);
        self.stash.retain(|s, _| s.step >= step);
    }

    /// Bytes the owner wrote and read.
    pub fn bytes(&self) -> [u64; 2] {
        [self.links.bytes_sent(), self.inbox.bytes_received()]
    }
}
