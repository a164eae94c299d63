//! A WebSocket subscriber for the fan-out scenario (`--format ws`, Auspex's
//! `/v1/events/ws`): TLS without certificate checks (loopback benchmarks against
//! self-signed servers), Basic authentication on the upgrade, the subscription in the
//! query string. Each text message is `{"id":N,"event":{…}}`.

use std::sync::Arc;

use anyhow::{Context, Result};
use base64::Engine;
use futures_util::StreamExt;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Accepts any certificate: the benchmark talks to its own server on loopback.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A stream of event messages as text.
pub type Events = futures_util::stream::BoxStream<'static, Result<String>>;

/// Opens `/v1/events/ws?types=…` on `base` (https://host:port).
pub async fn subscribe(base: &str, user: &str, password: &str, types: &str) -> Result<Events> {
    let url = url::Url::parse(base)?;
    let host = url.host_str().context("no host")?.to_string();
    let port = url.port().unwrap_or(5665);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(host.clone())?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    let mut request =
        format!("wss://{host}:{port}/v1/events/ws?types={types}").into_client_request()?;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    request
        .headers_mut()
        .insert("Authorization", format!("Basic {credentials}").parse()?);
    let (socket, _) = tokio_tungstenite::client_async(request, tls).await?;
    Ok(socket
        .filter_map(|m| async move {
            match m {
                Ok(Message::Text(t)) => Some(Ok(t.to_string())),
                Ok(_) => None,
                Err(e) => Some(Err(e.into())),
            }
        })
        .boxed())
}
