//! SIP over TCP and TLS: one task per connection. Messages are cut from the byte stream by their
//! Content-Length (§18.3); a double CRLF is an RFC 5626 §3.5.1 keep-alive ping, answered with a
//! single CRLF. Framing that cannot be recovered (no or oversized Content-Length, a head larger
//! than any message we accept) closes the connection: on a stream there is no next message to
//! resynchronise on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use rustls::pki_types::ServerName;
use switchboard_sip::stream::{next_frame, Frame};
use switchboard_sip::FlowId;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::Instrument;

use super::{Link, Sink, Transport, MAX_MESSAGE};
use crate::runtime::Command;
use crate::Telephony;

/// Accepts TCP connections (TLS ones when `tls` is given) and serves each on its own task.
pub(crate) async fn accept(
    t: Telephony,
    listener: TcpListener,
    tls: Option<Arc<tokio_rustls::TlsAcceptor>>,
) {
    let transport = if tls.is_some() {
        Transport::Tls
    } else {
        Transport::Tcp
    };
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: wait instead of spinning.
                tracing::warn!("sip {} accept: {e}", transport.token());
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let local = socket.local_addr().ok();
        let t = t.clone();
        let tls = tls.clone();
        let flow = t.new_flow();
        let span = tracing::info_span!("sip_stream", %flow, %peer, transport = transport.token());
        tokio::spawn(
            async move {
                match tls {
                    None => serve(t, socket, flow, transport, peer, local).await,
                    Some(acceptor) => match acceptor.accept(socket).await {
                        Ok(s) => serve(t, s, flow, transport, peer, local).await,
                        Err(e) => tracing::info!("tls handshake failed: {e}"),
                    },
                }
            }
            .instrument(span),
        );
    }
}

async fn serve<S>(
    t: Telephony,
    socket: S,
    flow: FlowId,
    transport: Transport,
    peer: SocketAddr,
    local: Option<SocketAddr>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Bytes>(t.config().flow_queue);
    let link = Link {
        transport,
        peer: peer.to_string(),
        local,
        sink: Sink::Stream(tx.clone()),
    };
    if !t.send(Command::Open { flow, link }).await {
        return;
    }
    carry(t.commands(), socket, flow, tx, rx).await;
}

/// How long a connection to a trunk may take to open (TCP and TLS handshakes).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a connection to a trunk's proxy for a flow the runtime already files (with `tx` as
/// its sink, so requests queue while it connects), then carries it. A connection that cannot
/// be opened closes the flow: its transactions fail as transport errors.
pub(crate) async fn connect(
    commands: mpsc::Sender<Command>,
    flow: FlowId,
    peer: SocketAddr,
    tls: Option<(Arc<tokio_rustls::TlsConnector>, ServerName<'static>)>,
    tx: mpsc::Sender<Bytes>,
    rx: mpsc::Receiver<Bytes>,
) {
    let opened = async {
        let socket = TcpStream::connect(peer).await?;
        let _ = socket.set_nodelay(true);
        std::io::Result::Ok(socket)
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, opened).await {
        Ok(Ok(socket)) => match tls {
            None => return carry(commands, socket, flow, tx, rx).await,
            Some((connector, name)) => {
                match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, socket)).await {
                    Ok(Ok(s)) => return carry(commands, s, flow, tx, rx).await,
                    Ok(Err(e)) => tracing::warn!(%peer, "tls to the trunk failed: {e}"),
                    Err(_) => tracing::warn!(%peer, "tls to the trunk timed out"),
                }
            }
        },
        Ok(Err(e)) => tracing::warn!(%peer, "connection to the trunk failed: {e}"),
        Err(_) => tracing::warn!(%peer, "connection to the trunk timed out"),
    }
    let _ = commands.send(Command::Close { flow }).await;
}

/// Reads messages off an open connection into the runtime and writes what the runtime
/// queues for it, until either side ends; then the flow is closed.
async fn carry<S>(
    commands: mpsc::Sender<Command>,
    socket: S,
    flow: FlowId,
    tx: mpsc::Sender<Bytes>,
    mut rx: mpsc::Receiver<Bytes>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tracing::debug!("sip connection open");
    let (mut reader, mut writer) = tokio::io::split(socket);
    let write = async {
        // Ends when the runtime drops the flow (closed, stuck) and this task's pong sender.
        while let Some(bytes) = rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    };
    let read = async {
        let mut buf = BytesMut::with_capacity(8 * 1024);
        'conn: loop {
            loop {
                match next_frame(&buf, MAX_MESSAGE) {
                    Frame::Message(n) => {
                        let bytes = buf.split_to(n).freeze();
                        let cmd = Command::Receive {
                            flow,
                            from: None,
                            bytes,
                        };
                        if commands.send(cmd).await.is_err() {
                            break 'conn;
                        }
                    }
                    Frame::Ping => {
                        buf.advance(4);
                        if tx.try_send(Bytes::from_static(b"\r\n")).is_err() {
                            break 'conn;
                        }
                    }
                    Frame::Filler => buf.advance(2),
                    Frame::Incomplete => break,
                    Frame::Broken => {
                        tracing::info!(buffered = buf.len(), "unframeable SIP stream; closing");
                        break 'conn;
                    }
                }
            }
            match reader.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        drop(tx);
        let _ = commands.send(Command::Close { flow }).await;
    };
    tokio::join!(read, write);
    tracing::debug!("sip connection closed");
}
