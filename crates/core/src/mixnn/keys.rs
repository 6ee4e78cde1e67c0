//! The X25519 key pair of a mix node, a layer host or the owner's receiving end, and the
//! public **node card** (`{role, address, public_key}`, JSON) through which the owner learns
//! where a node listens and which key its packets must be built for.

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sphinx_packet::route::Node;
use x25519_dalek::{PublicKey, StaticSecret};

use super::address::node_address;
use crate::files::{SECRET_MODE, read_at_most, read_json, write_atomic_with_mode, write_json};
use crate::{Error, Result};

/// A node's Sphinx key pair.
#[derive(Clone)]
pub struct NodeKey {
    /// The secret scalar: peels the node's layer of every packet.
    pub secret: StaticSecret,
    /// Its public key, in the node's card.
    pub public: PublicKey,
}

impl NodeKey {
    /// A fresh random key pair.
    pub fn random() -> Self {
        Self::from_bytes(rand::random())
    }

    fn from_bytes(bytes: [u8; 32]) -> Self {
        let secret = StaticSecret::from(bytes);
        let public = PublicKey::from(&secret);
        Self { secret, public }
    }

    /// The key in `path` (64 hex digits), or a fresh one written there (mode 0600) if the file
    /// does not exist, so that a restarted node keeps its identity.
    ///
    /// # Errors
    /// [`Error::File`] naming `path` if it cannot be read or written or is not a key.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        if !path.exists() {
            let key = Self::random();
            write_atomic_with_mode(
                path,
                format!("{}\n", hex::encode(key.secret.to_bytes())).as_bytes(),
                SECRET_MODE,
            )?;
            return Ok(key);
        }
        let text = read_at_most(path, 1024)?;
        let bytes = std::str::from_utf8(&text)
            .ok()
            .and_then(|t| hex::decode(t.trim()).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| Error::file(path, "not a node key (64 hex digits)"))?;
        Ok(Self::from_bytes(bytes))
    }
}

/// What a node does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Peels and forwards packets.
    Mix,
    /// Runs one layer of the model.
    LayerHost,
}

/// A node's public card: where it listens and its public key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCard {
    /// What the node does.
    pub role: Role,
    /// Where it listens.
    pub address: SocketAddr,
    /// Its X25519 public key, 64 hex digits.
    pub public_key: String,
}

impl NodeCard {
    /// The card of a node with `key` listening at `address`.
    pub fn new(role: Role, address: SocketAddr, key: &NodeKey) -> Self {
        Self {
            role,
            address,
            public_key: hex::encode(key.public.as_bytes()),
        }
    }

    /// Writes the card to `path` atomically.
    ///
    /// # Errors
    /// [`Error::File`] naming `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_json(path, self)
    }

    /// Reads a card of a node of role `role` from `path`.
    ///
    /// # Errors
    /// [`Error::File`] naming `path` if it is unreadable, of another role or holds a bad key.
    pub fn read(path: &Path, role: Role) -> Result<Self> {
        let card: NodeCard = read_json(path)?;
        if card.role != role {
            return Err(Error::file(
                path,
                format!("the card of a {:?}, expected a {role:?}", card.role),
            ));
        }
        card.public_key()
            .map_err(|e| Error::file(path, e.to_string()))?;
        Ok(card)
    }

    /// The public key.
    ///
    /// # Errors
    /// [`Error::Invalid`] if it is not 64 hex digits.
    pub fn public_key(&self) -> Result<PublicKey> {
        hex::decode(&self.public_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(PublicKey::from)
            .ok_or_else(|| Error::invalid("a node card's public key must be 64 hex digits"))
    }

    /// The node as a Sphinx route entry.
    ///
    /// # Errors
    /// As [`public_key`](Self::public_key).
    pub fn node(&self) -> Result<Node> {
        Ok(Node::new(node_address(self.address), self.public_key()?))
    }
}
