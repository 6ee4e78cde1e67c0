//! Tempo's messages over TCP, encrypted and authenticated with the Noise protocol.
//!
//! The handshake is `Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s` (the `snow` crate): ephemeral
//! X25519 keys give each session fresh keys, and the 32-byte pre-shared key, which the owner
//! makes and hands to its worker, authenticates both ends (a party without it cannot finish
//! the handshake). Every Noise transport message is authenticated with ChaCha20-Poly1305
//! under a counter nonce, so a tampered, truncated, reordered or replayed message fails to
//! decrypt and ends the session. On the wire, each Noise message is a 2-byte big-endian length
//! and the ciphertext; a frame is one message holding its length (8 bytes), then as many
//! messages as its bytes need. I/O runs on a tokio runtime; every read and write has a time
//! limit, so a dead peer is noticed within it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use snow::TransportState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::time::timeout;

use super::wire::MAX_FRAME_BYTES;
use super::{Message, Transport};
use crate::{Error, Result};

/// The Noise pattern and primitives.
pub const NOISE_PARAMS: &str = "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2s";
/// Bytes of the pre-shared key.
pub const PSK_BYTES: usize = 32;
/// Longest wait for a connecting peer's first handshake message: a peer that connects and
/// stays silent holds the worker (one session at a time) no longer than this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest Noise message, ciphertext included.
const NOISE_MAX: usize = 65535;
/// Poly1305 tag bytes.
const TAG: usize = 16;
/// Plaintext bytes per Noise message.
const PLAIN_MAX: usize = NOISE_MAX - TAG;

fn runtime() -> Result<Arc<Runtime>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map(Arc::new)
        .map_err(|e| Error::Connection(format!("cannot start the network runtime: {e}")))
}

fn noise_error(peer: &str, e: snow::Error) -> Error {
    Error::Connection(format!(
        "{peer}: Noise failure ({e}): wrong pre-shared key, or a tampered or replayed message"
    ))
}

/// A listening socket that accepts Noise sessions.
pub struct NoiseListener {
    runtime: Arc<Runtime>,
    listener: TcpListener,
    psk: [u8; PSK_BYTES],
    timeout: Duration,
}

impl NoiseListener {
    /// Listens on `addr` (port 0: any free port). Sessions use `psk` and wait at most
    /// `timeout` for each read or write.
    ///
    /// # Errors
    /// [`Error::Connection`] when the address cannot be bound.
    pub fn bind(addr: &str, psk: [u8; PSK_BYTES], timeout: Duration) -> Result<Self> {
        let runtime = runtime()?;
        let listener = runtime
            .block_on(TcpListener::bind(addr))
            .map_err(|e| Error::Connection(format!("cannot listen on {addr}: {e}")))?;
        Ok(Self {
            runtime,
            listener,
            psk,
            timeout,
        })
    }

    /// The bound address (with the port chosen for port 0).
    ///
    /// # Errors
    /// [`Error::Connection`] if the socket has no local address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|e| Error::Connection(format!("no local address: {e}")))
    }

    /// Waits for the next connection and runs the responder's handshake.
    ///
    /// # Errors
    /// [`Error::Connection`] when accepting fails or the handshake fails (wrong key, timeout).
    pub fn accept(&self) -> Result<NoiseTcp> {
        let (stream, peer) = self
            .runtime
            .block_on(self.listener.accept())
            .map_err(|e| Error::Connection(format!("cannot accept: {e}")))?;
        stream.set_nodelay(true).ok();
        let peer = peer.to_string();
        let mut handshake = snow::Builder::new(NOISE_PARAMS.parse().expect("valid Noise params"))
            .psk(0, &self.psk)
            .build_responder()
            .map_err(|e| noise_error(&peer, e))?;
        let mut link = Link {
            runtime: self.runtime.clone(),
            stream,
            timeout: self.timeout.min(HANDSHAKE_TIMEOUT),
            peer,
        };
        let mut buf = vec![0u8; NOISE_MAX];
        let hello = link.read_chunk()?;
        link.timeout = self.timeout;
        handshake
            .read_message(&hello, &mut buf)
            .map_err(|e| noise_error(&link.peer, e))?;
        let n = handshake
            .write_message(&[], &mut buf)
            .map_err(|e| noise_error(&link.peer, e))?;
        link.write(&chunk(&buf[..n]))?;
        let noise = handshake
            .into_transport_mode()
            .map_err(|e| noise_error(&link.peer, e))?;
        Ok(NoiseTcp {
            link,
            noise,
            bytes: [0; 2],
        })
    }
}

/// An encrypted, authenticated connection (see the module's notes).
pub struct NoiseTcp {
    link: Link,
    noise: TransportState,
    bytes: [u64; 2],
}

impl NoiseTcp {
    /// Connects to `addr` and runs the initiator's handshake with `psk`; every later read and
    /// write waits at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Connection`] when nothing answers at `addr` or the handshake fails.
    pub fn connect(addr: &str, psk: [u8; PSK_BYTES], limit: Duration) -> Result<Self> {
        let runtime = runtime()?;
        let stream = runtime
            .block_on(async { timeout(limit, TcpStream::connect(addr)).await })
            .map_err(|_| Error::Connection(format!("{addr}: no answer within {limit:.0?}")))?
            .map_err(|e| Error::Connection(format!("cannot connect to {addr}: {e}")))?;
        stream.set_nodelay(true).ok();
        let mut link = Link {
            runtime,
            stream,
            timeout: limit,
            peer: addr.to_string(),
        };
        let mut handshake = snow::Builder::new(NOISE_PARAMS.parse().expect("valid Noise params"))
            .psk(0, &psk)
            .build_initiator()
            .map_err(|e| noise_error(addr, e))?;
        let mut buf = vec![0u8; NOISE_MAX];
        let n = handshake
            .write_message(&[], &mut buf)
            .map_err(|e| noise_error(addr, e))?;
        link.write(&chunk(&buf[..n]))?;
        let reply = link.read_chunk().map_err(|e| {
            Error::Connection(format!(
                "handshake failed ({e}): the worker holds another pre-shared key, or is not a Tempo worker"
            ))
        })?;
        handshake
            .read_message(&reply, &mut buf)
            .map_err(|e| noise_error(addr, e))?;
        let noise = handshake
            .into_transport_mode()
            .map_err(|e| noise_error(addr, e))?;
        Ok(Self {
            link,
            noise,
            bytes: [0; 2],
        })
    }
}

/// A length-prefixed Noise message.
fn chunk(ciphertext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + ciphertext.len());
    out.extend_from_slice(&(ciphertext.len() as u16).to_be_bytes());
    out.extend_from_slice(ciphertext);
    out
}

/// The TCP stream with its runtime and time limit.
struct Link {
    runtime: Arc<Runtime>,
    stream: TcpStream,
    timeout: Duration,
    peer: String,
}

impl Link {
    fn closed(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::Connection(format!("{}: {what}: {e}", self.peer))
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let limit = self.timeout;
        let stream = &mut self.stream;
        let written = self
            .runtime
            .block_on(async { timeout(limit, stream.write_all(bytes)).await });
        match written {
            Err(_) => Err(self.closed("cannot send", format!("stalled past {limit:.0?}"))),
            Ok(Err(e)) => Err(self.closed("cannot send", e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    fn read_chunk(&mut self) -> Result<Vec<u8>> {
        let limit = self.timeout;
        let mut length = [0u8; 2];
        let mut buf = Vec::new();
        let stream = &mut self.stream;
        let read = self.runtime.block_on(async {
            timeout(limit, async {
                stream.read_exact(&mut length).await?;
                buf.resize(u16::from_be_bytes(length) as usize, 0);
                stream.read_exact(&mut buf).await
            })
            .await
        });
        match read {
            Err(_) => Err(self.closed("silent", format!("no data within {limit:.0?}"))),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                Err(self.closed("connection closed", "the peer has hung up"))
            }
            Ok(Err(e)) => Err(self.closed("cannot receive", e)),
            Ok(Ok(_)) => Ok(buf),
        }
    }
}

impl Transport for NoiseTcp {
    fn send(&mut self, message: &Message) -> Result<()> {
        let frame = message.encode();
        self.bytes[0] += frame.len() as u64;
        let mut out = Vec::with_capacity(frame.len() + frame.len() / PLAIN_MAX * 18 + 64);
        let mut cipher = vec![0u8; NOISE_MAX];
        let length = (frame.len() as u64).to_le_bytes();
        for plain in std::iter::once(&length[..]).chain(frame.chunks(PLAIN_MAX)) {
            let n = self
                .noise
                .write_message(plain, &mut cipher)
                .map_err(|e| noise_error(&self.link.peer, e))?;
            out.extend_from_slice(&chunk(&cipher[..n]));
        }
        self.link.write(&out)
    }

    fn receive(&mut self) -> Result<Message> {
        let mut plain = vec![0u8; NOISE_MAX];
        let open = |link: &mut Link, noise: &mut TransportState, plain: &mut [u8]| {
            let cipher = link.read_chunk()?;
            noise
                .read_message(&cipher, plain)
                .map_err(|e| noise_error(&link.peer, e))
        };
        let n = open(&mut self.link, &mut self.noise, &mut plain)?;
        let length: [u8; 8] = plain[..n].try_into().map_err(|_| {
            Error::Connection(format!(
                "{}: a frame must start with its length",
                self.link.peer
            ))
        })?;
        let length = u64::from_le_bytes(length);
        if length > MAX_FRAME_BYTES {
            return Err(Error::Connection(format!(
                "{}: frame of {length} bytes is over the {MAX_FRAME_BYTES}-byte limit",
                self.link.peer
            )));
        }
        let mut frame = Vec::new();
        while (frame.len() as u64) < length {
            let n = open(&mut self.link, &mut self.noise, &mut plain)?;
            frame.extend_from_slice(&plain[..n]);
        }
        if frame.len() as u64 != length {
            return Err(Error::Connection(format!(
                "{}: frame longer than its announced {length} bytes",
                self.link.peer
            )));
        }
        self.bytes[1] += frame.len() as u64;
        Message::decode(&frame)
    }

    fn bytes(&self) -> [u64; 2] {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener as StdListener, TcpStream as StdStream};
    use std::thread;

    use super::*;

    const LIMIT: Duration = Duration::from_secs(20);

    /// A loopback relay between a client and `server` that copies everything and changes
    /// byte `flip` (counted over the client-to-server stream) once, then stops.
    fn relay(server: SocketAddr, flip: usize) -> (SocketAddr, thread::JoinHandle<()>) {
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let (mut client, _) = listener.accept().unwrap();
            let mut upstream = StdStream::connect(server).unwrap();
            client.set_read_timeout(Some(LIMIT)).unwrap();
            upstream.set_read_timeout(Some(LIMIT)).unwrap();
            let (mut client_back, mut upstream_back) =
                (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            let down = thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = upstream_back.read(&mut buf) {
                    if n == 0 || client_back.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
            let (mut seen, mut buf) = (0usize, [0u8; 4096]);
            while let Ok(n) = client.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if (seen..seen + n).contains(&flip) {
                    buf[flip - seen] ^= 0x40;
                }
                seen += n;
                if upstream.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = upstream.shutdown(std::net::Shutdown::Both);
            let _ = down.join();
        });
        (addr, handle)
    }

    #[test]
    fn a_tampered_message_ends_the_session_and_an_intact_one_arrives() {
        let psk = [3u8; PSK_BYTES];
        let message = Message::Step { learning_rate: 0.5 };
        // The handshake's first message is 2 + 48 bytes; a byte well after it is in the
        // first transport message.
        for (flip, tampered) in [(usize::MAX, false), (80, true)] {
            let listener = NoiseListener::bind("127.0.0.1:0", psk, LIMIT).unwrap();
            let (addr, relay) = relay(listener.local_addr().unwrap(), flip);
            let sent = message.clone();
            let client = thread::spawn(move || {
                let mut session = NoiseTcp::connect(&addr.to_string(), psk, LIMIT).unwrap();
                session.send(&sent).unwrap();
            });
            let mut session = listener.accept().unwrap();
            let received = session.receive();
            client.join().unwrap();
            drop(session);
            relay.join().unwrap();
            match (tampered, received) {
                (false, Ok(m)) => assert_eq!(m, message),
                (true, Err(e)) => assert!(e.to_string().contains("tampered"), "{e}"),
                (t, other) => panic!("tampered {t}: {other:?}"),
            }
        }
    }
}
