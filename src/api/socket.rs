//! A connection's TCP stream with socket options that a request handler may ask for
//! later, without a second descriptor per connection (ten thousand event streams would
//! otherwise take twenty thousand).
//!
//! The handler flips a flag on [`SocketOptions`]; the stream applies it on its next
//! write, in the task that owns the socket.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The socket send buffer of event streams: what a stalled subscriber holds in the
/// kernel (the default grows to several MiB).
pub const STREAM_SEND_BUFFER: usize = 64 << 10;

/// What handlers may ask of the connection's socket.
#[derive(Debug, Default)]
pub struct SocketOptions {
    /// Bound the send buffer to [`STREAM_SEND_BUFFER`].
    small_send_buffer: AtomicBool,
}

impl SocketOptions {
    /// Asks for the bounded send buffer (applied before the next bytes are written).
    pub fn limit_send_buffer(&self) {
        self.small_send_buffer.store(true, Ordering::Relaxed);
    }
}

/// A TCP stream that applies its [`SocketOptions`] before writing.
pub struct Socket {
    tcp: TcpStream,
    options: Arc<SocketOptions>,
    /// The send buffer is bounded already.
    limited: bool,
}

impl Socket {
    pub fn new(tcp: TcpStream) -> (Socket, Arc<SocketOptions>) {
        let options = Arc::new(SocketOptions::default());
        let socket = Socket {
            tcp,
            options: options.clone(),
            limited: false,
        };
        (socket, options)
    }

    fn apply_options(&mut self) {
        if !self.limited && self.options.small_send_buffer.load(Ordering::Relaxed) {
            self.limited = true;
            if let Err(e) =
                socket2::SockRef::from(&self.tcp).set_send_buffer_size(STREAM_SEND_BUFFER)
            {
                tracing::debug!(error = %e, "Could not bound the send buffer.");
            }
        }
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.apply_options();
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.apply_options();
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn the_send_buffer_is_bounded_on_the_next_write_after_asking() -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let client = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await?;
            let mut buf = [0u8; 2];
            c.read_exact(&mut buf).await?;
            anyhow::Ok(buf)
        });
        let (tcp, _) = listener.accept().await?;
        let before = socket2::SockRef::from(&tcp).send_buffer_size()?;
        let (mut socket, options) = Socket::new(tcp);
        socket.write_all(b"a").await?;
        assert_eq!(
            socket2::SockRef::from(&socket.tcp).send_buffer_size()?,
            before
        );
        options.limit_send_buffer();
        socket.write_all(b"b").await?;
        let after = socket2::SockRef::from(&socket.tcp).send_buffer_size()?;
        // Linux doubles what it is given, for its bookkeeping.
        assert!(
            after == STREAM_SEND_BUFFER || after == 2 * STREAM_SEND_BUFFER,
            "{before} -> {after}"
        );
        assert_eq!(&client.await??, b"ab");
        Ok(())
    }
}
