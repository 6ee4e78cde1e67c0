//! The routes through the mix network, known to the owner alone: every packet the owner sends,
//! and every reply block it hands a host, goes through `route_mixes` distinct mix nodes drawn
//! at random for that packet, then to its destination.

use std::net::SocketAddr;
use std::path::PathBuf;

use amalgam_core::mixnn::address::destination_address;
use amalgam_core::mixnn::packet::{PAYLOAD_BYTES, SESSION_KEY_BYTES, Slot, identifier};
use amalgam_core::mixnn::sphinx::NO_DELAY;
use amalgam_core::mixnn::{Chunk, NodeCard, Role};
use amalgam_core::{Error, Result};
use rand::seq::IndexedRandom;
use sphinx_packet::header::delays::Delay;
use sphinx_packet::route::{Destination, Node};
use sphinx_packet::version::PAYLOAD_KEYS_SEEDS_VERSION;
use sphinx_packet::{SURBMaterial, SphinxPacketBuilder};

/// Most mixes on a route: Sphinx headers hold five hops, the destination included.
pub const MAX_ROUTE_MIXES: usize = sphinx_packet::constants::MAX_PATH_LENGTH - 1;

/// The nodes the owner trains with.
#[derive(Clone, Debug)]
pub struct Directory {
    /// The mix nodes.
    pub mixes: Vec<NodeCard>,
    /// The layer hosts, first layer first.
    pub hosts: Vec<NodeCard>,
}

impl Directory {
    /// Reads the cards in `mixes` and `hosts`.
    ///
    /// # Errors
    /// [`Error::File`] naming an unreadable or wrong card.
    pub fn read(mixes: &[PathBuf], hosts: &[PathBuf]) -> Result<Self> {
        Ok(Self {
            mixes: mixes
                .iter()
                .map(|p| NodeCard::read(p, Role::Mix))
                .collect::<Result<_>>()?,
            hosts: hosts
                .iter()
                .map(|p| NodeCard::read(p, Role::LayerHost))
                .collect::<Result<_>>()?,
        })
    }
}

/// A destination: its Sphinx node and the session key its identifiers are made with.
#[derive(Clone)]
pub struct Endpoint {
    pub node: Node,
    pub address: SocketAddr,
    pub key: [u8; SESSION_KEY_BYTES],
}

/// Builds packets and reply blocks over random routes.
pub struct Router {
    mixes: Vec<Node>,
    route_mixes: usize,
}

fn sphinx(e: sphinx_packet::Error) -> Error {
    Error::invalid(format!("Sphinx: {e}"))
}

impl Router {
    /// Routes of `route_mixes` distinct mixes from `mixes`.
    ///
    /// # Errors
    /// [`Error::Invalid`] for fewer mixes than a route needs, or routes longer than
    /// [`MAX_ROUTE_MIXES`] or empty.
    pub fn new(mixes: &[NodeCard], route_mixes: usize) -> Result<Self> {
        if !(1..=MAX_ROUTE_MIXES).contains(&route_mixes) || mixes.len() < route_mixes {
            return Err(Error::invalid(format!(
                "routes of {route_mixes} mixes need 1 to {MAX_ROUTE_MIXES} mixes per route and at least that many mix nodes ({} given)",
                mixes.len()
            )));
        }
        Ok(Self {
            mixes: mixes.iter().map(NodeCard::node).collect::<Result<_>>()?,
            route_mixes,
        })
    }

    fn route(&self, to: &Endpoint) -> (Vec<Node>, Vec<Delay>) {
        let mut route: Vec<Node> = self
            .mixes
            .choose_multiple(&mut rand::rng(), self.route_mixes)
            .cloned()
            .collect();
        route.push(to.node.clone());
        let delays = vec![NO_DELAY; route.len()];
        (route, delays)
    }

    fn destination(to: &Endpoint, slot: Slot, index: u32) -> Destination {
        Destination::new(
            destination_address(to.address),
            identifier(&to.key, slot, index),
        )
    }

    /// The packet carrying `chunk` to `to`, and the first mix to send it to.
    ///
    /// # Errors
    /// [`Error::Invalid`] if Sphinx refuses (never for chunks made by [`Chunk::split`]).
    pub fn packet(&self, to: &Endpoint, chunk: &Chunk) -> Result<(SocketAddr, Vec<u8>)> {
        let (route, delays) = self.route(to);
        let first = amalgam_core::mixnn::decode_address(route[0].address.as_bytes())?;
        let packet = SphinxPacketBuilder::new()
            .with_payload_size(PAYLOAD_BYTES)
            .build_packet(
                chunk.encode(),
                &route,
                &Self::destination(to, chunk.slot, chunk.index),
                &delays,
            )
            .map_err(sphinx)?;
        Ok((first, packet.to_bytes()))
    }

    /// `count` reply blocks for the chunks `0..count` of message `slot` to `to`.
    ///
    /// # Errors
    /// [`Error::Invalid`] if Sphinx refuses.
    pub fn reply_blocks(&self, to: &Endpoint, slot: Slot, count: u32) -> Result<Vec<Vec<u8>>> {
        (0..count)
            .map(|index| {
                let (route, delays) = self.route(to);
                let material = SURBMaterial::new(
                    route,
                    delays,
                    Self::destination(to, slot, index),
                    PAYLOAD_KEYS_SEEDS_VERSION,
                );
                Ok(material.construct_SURB().map_err(sphinx)?.to_bytes())
            })
            .collect()
    }
}
