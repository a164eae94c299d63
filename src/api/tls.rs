//! The rustls server configuration: our certificate, TLS 1.2+, ALPN `h2` and `http/1.1`,
//! and optional client certificates.
//!
//! As Icinga does, a client certificate never fails the handshake because our CA did not
//! sign it: the connection continues without a certificate identity and the client may
//! authenticate with Basic (a certificate from another CA, an expired one). Only a client
//! that cannot prove it holds the certificate's key fails. Whether the certificate
//! verified against our CA is decided after the handshake ([`ClientTrust::trusted`]).

use std::fs;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};

use super::settings::ClientCertificates;
use crate::pki::Paths;

/// The crypto provider: ring, as the design card asks.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's TLS: the rustls configuration and the check of client certificates.
pub struct ServerTls {
    pub config: Arc<ServerConfig>,
    pub trust: Arc<ClientTrust>,
}

/// Builds the server configuration from the node's certificate, key and CA.
pub fn server_config(paths: &Paths, client_certificates: ClientCertificates) -> Result<ServerTls> {
    let certs = read_certs(&paths.cert)?;
    let key = read_key(&paths.key)?;
    let mut roots = RootCertStore::empty();
    for ca in read_certs(&paths.ca_cert)
        .or_else(|_| read_certs(&paths.trusted_ca()))
        .context("reading the CA certificate")?
    {
        roots.add(ca).context("adding the CA certificate")?;
    }
    let provider = provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .context("building the client certificate verifier")?;
    let trust = Arc::new(ClientTrust {
        verifier,
        offer: client_certificates == ClientCertificates::Request,
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_client_cert_verifier(trust.clone())
        .with_single_cert(certs, key)
        .context("loading the server certificate")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(ServerTls {
        config: Arc::new(config),
        trust,
    })
}

/// Client certificates: asked for (optionally), accepted whoever signed them as long as
/// the client proves it holds the key; trusted as an identity only when they verify
/// against our CA.
#[derive(Debug)]
pub struct ClientTrust {
    verifier: Arc<dyn ClientCertVerifier>,
    offer: bool,
}

impl ClientTrust {
    /// Whether a client's certificate chain (end entity first) verifies against our CA
    /// now.
    pub fn trusted(&self, chain: &[CertificateDer<'_>]) -> bool {
        let Some((end_entity, intermediates)) = chain.split_first() else {
            return false;
        };
        self.verifier
            .verify_client_cert(end_entity, intermediates, UnixTime::now())
            .is_ok()
    }
}

impl ClientCertVerifier for ClientTrust {
    fn offer_client_auth(&self) -> bool {
        self.offer
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.verifier.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Whether it names an identity is decided after the handshake.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier.supported_verify_schemes()
    }
}

/// Every certificate of a PEM file.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing {}", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", path.display());
    Ok(certs)
}

/// The private key of a PEM file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            anyhow::anyhow!("{} holds no private key", path.display())
        }
        e => anyhow::anyhow!("parsing {}: {e}", path.display()),
    })
}
