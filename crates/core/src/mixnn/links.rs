//! The TCP links between hops. Every packet is exactly [`PACKET_BYTES`] long, so a link is a
//! plain stream of packets: no length field, nothing that varies with the content. A node
//! keeps one outgoing connection per next hop (reconnecting when it breaks, closing it after
//! `LINK_IDLE` without traffic) and accepts any number of incoming ones (up to
//! [`MAX_CONNECTIONS`]). I/O runs on a tokio runtime; a packet
//! that cannot be delivered within the time limits is dropped and logged (the owner notices a
//! missing message and tries the step again).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::packet::PACKET_BYTES;
use crate::{Error, Result};

/// Most incoming connections at once.
pub const MAX_CONNECTIONS: usize = 1024;
/// Packets queued per link before the sender waits.
const QUEUE: usize = 1024;
/// Longest wait to connect to a next hop.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait to write one packet.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// A link with nothing to send for this long is closed (its task ends, its connection too);
/// the next packet to that hop opens a new one. Owners listen on a fresh port every session,
/// so without this a long-running node kept a connection and a task for every owner session
/// it ever answered (6,040 open descriptors after about 20,000 sessions in the checkpoint
/// fuzzer).
const LINK_IDLE: Duration = Duration::from_secs(10);

/// The sending side of a node: one queue per next hop.
pub struct Links {
    runtime: Arc<Runtime>,
    peers: Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>,
    sent: Arc<AtomicU64>,
    name: String,
}

/// The packets that reach a node, in arrival order.
pub struct Inbox {
    runtime: Arc<Runtime>,
    packets: mpsc::Receiver<Vec<u8>>,
    received: Arc<AtomicU64>,
}

/// Listens on `addr` (port 0: any free port); `name` labels the node's log lines.
///
/// # Errors
/// [`Error::Connection`] if the runtime cannot start or the address cannot be bound.
pub fn listen(addr: &str, name: &str) -> Result<(Links, Inbox, SocketAddr)> {
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| Error::Connection(format!("cannot start the network runtime: {e}")))?,
    );
    let listener = runtime
        .block_on(TcpListener::bind(addr))
        .map_err(|e| Error::Connection(format!("cannot listen on {addr}: {e}")))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Connection(format!("cannot read the bound address: {e}")))?;
    let (tx, packets) = mpsc::channel(QUEUE);
    let received = Arc::new(AtomicU64::new(0));
    runtime.spawn(accept(listener, tx, received.clone(), name.to_string()));
    let links = Links {
        runtime: runtime.clone(),
        peers: Mutex::new(HashMap::new()),
        sent: Arc::new(AtomicU64::new(0)),
        name: name.to_string(),
    };
    Ok((
        links,
        Inbox {
            runtime,
            packets,
            received,
        },
        local,
    ))
}

async fn accept(
    listener: TcpListener,
    tx: mpsc::Sender<Vec<u8>>,
    received: Arc<AtomicU64>,
    name: String,
) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            eprintln!("{name}: refused a connection from {peer}: {MAX_CONNECTIONS} open");
            continue;
        }
        open.fetch_add(1, Ordering::Relaxed);
        let (tx, received, open, name) = (tx.clone(), received.clone(), open.clone(), name.clone());
        tokio::spawn(async move {
            read_packets(stream, tx, received, &name, peer).await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn read_packets(
    mut stream: TcpStream,
    tx: mpsc::Sender<Vec<u8>>,
    received: Arc<AtomicU64>,
    name: &str,
    peer: SocketAddr,
) {
    loop {
        let mut packet = vec![0u8; PACKET_BYTES];
        let mut filled = 0;
        while filled < PACKET_BYTES {
            match stream.read(&mut packet[filled..]).await {
                Ok(0) | Err(_) => {
                    if filled > 0 {
                        eprintln!(
                            "{name}: truncated packet from {peer} ({filled} of {PACKET_BYTES} bytes) dropped"
                        );
                    }
                    return;
                }
                Ok(n) => filled += n,
            }
        }
        received.fetch_add(PACKET_BYTES as u64, Ordering::Relaxed);
        if tx.send(packet).await.is_err() {
            return;
        }
    }
}

async fn write_packets(
    to: SocketAddr,
    mut queue: mpsc::Receiver<Vec<u8>>,
    sent: Arc<AtomicU64>,
    name: String,
) {
    let mut stream: Option<TcpStream> = None;
    loop {
        let packet = match timeout(LINK_IDLE, queue.recv()).await {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            // Idle: refuse new packets (the sender opens a new link for them), then send the
            // ones already queued, if any, and end.
            Err(_) => {
                queue.close();
                continue;
            }
        };
        // One retry on a fresh connection: the peer may have restarted.
        for _ in 0..2 {
            if stream.is_none() {
                match timeout(CONNECT_TIMEOUT, TcpStream::connect(to)).await {
                    Ok(Ok(s)) => {
                        let _ = s.set_nodelay(true);
                        stream = Some(s);
                    }
                    Ok(Err(e)) => {
                        eprintln!("{name}: cannot reach {to} ({e}); packet dropped");
                        break;
                    }
                    Err(_) => {
                        eprintln!("{name}: cannot reach {to} (timed out); packet dropped");
                        break;
                    }
                }
            }
            let s = stream.as_mut().expect("connected above");
            match timeout(WRITE_TIMEOUT, s.write_all(&packet)).await {
                Ok(Ok(())) => {
                    sent.fetch_add(packet.len() as u64, Ordering::Relaxed);
                    break;
                }
                _ => stream = None,
            }
        }
    }
}

impl Links {
    /// Queues `packet` for `to`; it is sent in the background, in order per next hop. A link
    /// closed for idleness ([`LINK_IDLE`]) is opened again.
    pub fn send(&self, to: SocketAddr, mut packet: Vec<u8>) {
        for _ in 0..2 {
            let queue = self.queue(to);
            match self.runtime.block_on(queue.send(packet)) {
                Ok(()) => return,
                Err(mpsc::error::SendError(back)) => packet = back,
            }
        }
        eprintln!("{}: the link to {to} is gone; packet dropped", self.name);
    }

    /// The open queue to `to`, with a new link if it has none (links closed for idleness are
    /// forgotten then).
    fn queue(&self, to: SocketAddr) -> mpsc::Sender<Vec<u8>> {
        let mut peers = self.peers.lock().expect("no panics while holding the lock");
        if let Some(queue) = peers.get(&to).filter(|q| !q.is_closed()) {
            return queue.clone();
        }
        peers.retain(|_, queue| !queue.is_closed());
        let (tx, rx) = mpsc::channel(QUEUE);
        self.runtime
            .spawn(write_packets(to, rx, self.sent.clone(), self.name.clone()));
        peers.insert(to, tx.clone());
        tx
    }

    /// Bytes written to the network so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Inbox {
    /// The next packet, waiting at most `limit`; `None` if none came.
    pub fn receive(&mut self, limit: Duration) -> Option<Vec<u8>> {
        let packets = &mut self.packets;
        self.runtime
            .block_on(async { timeout(limit, packets.recv()).await })
            .ok()
            .flatten()
    }

    /// Bytes read from the network so far.
    pub fn bytes_received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}
