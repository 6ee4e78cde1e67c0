//! The loop every MixNN node runs: take a packet from the inbox, handle it, send what it
//! produced; refused packets are logged and training goes on.

use std::net::SocketAddr;
use std::time::Duration;

use amalgam_core::Result;
use amalgam_core::mixnn::{Inbox, Links, NodeCard, NodeKey, Role, links};

/// Packets to send: `(next hop, packet)`.
pub type Outgoing = Vec<(SocketAddr, Vec<u8>)>;

/// A node's packet processing.
pub trait PacketHandler {
    /// Handles one packet.
    ///
    /// # Errors
    /// Why the packet was refused (it is then dropped and logged).
    fn handle(&mut self, packet: &[u8]) -> Result<Outgoing>;

    /// Packets held back (a mix node's batch) to send now that the inbox is idle.
    fn flush(&mut self) -> Outgoing {
        Vec::new()
    }
}

/// How long the inbox may stay idle before held-back packets are flushed.
pub const FLUSH_AFTER: Duration = Duration::from_millis(20);

/// Serves `handler` until the process is stopped; `name` labels the log lines (stderr).
pub fn serve(handler: &mut dyn PacketHandler, links: &Links, inbox: &mut Inbox, name: &str) -> ! {
    loop {
        let out = match inbox.receive(FLUSH_AFTER) {
            Some(packet) => handler.handle(&packet).unwrap_or_else(|e| {
                eprintln!("{name}: rejected packet: {e}");
                Vec::new()
            }),
            None => handler.flush(),
        };
        for (to, packet) in out {
            links.send(to, packet);
        }
    }
}

/// Serves `handler`, a node of `role` with `key`, on a thread of this process listening on
/// `listen` (for the audit and the tests: the thread ends with the process); its card.
///
/// # Errors
/// [`amalgam_core::Error::Connection`] if `listen` cannot be bound.
pub fn spawn_in_process(
    listen: &str,
    role: Role,
    key: &NodeKey,
    mut handler: Box<dyn PacketHandler + Send>,
) -> Result<NodeCard> {
    let name = format!("{role:?} (in process)");
    let (links, mut inbox, address) = links::listen(listen, &name)?;
    std::thread::spawn(move || serve(handler.as_mut(), &links, &mut inbox, &name));
    Ok(NodeCard::new(role, address, key))
}
