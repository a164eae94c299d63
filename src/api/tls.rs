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
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};

use super::settings::ClientCertificates;
use crate::pki::Paths;

/// The crypto provider: ring, as the design card asks.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's TLS: the rustls configuration, the check of client certificates, and the
/// node certificate it presents (replaceable while serving, for renewals).
pub struct ServerTls {
    pub config: Arc<ServerConfig>,
    pub trust: Arc<ClientTrust>,
    pub node_cert: Arc<NodeCert>,
}

/// The node's certificate and key as the handshakes present them; [`NodeCert::reload`]
/// switches to the files' current contents for the handshakes that follow.
#[derive(Debug)]
pub struct NodeCert {
    current: std::sync::RwLock<Arc<CertifiedKey>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl NodeCert {
    fn load(paths: &Paths, provider: Arc<rustls::crypto::CryptoProvider>) -> Result<NodeCert> {
        let key = certified_key(paths, &provider)?;
        Ok(NodeCert {
            current: std::sync::RwLock::new(Arc::new(key)),
            provider,
        })
    }

    /// Reads the certificate and key again.
    ///
    /// # Errors
    /// They cannot be read or do not belong together; the previous ones stay.
    pub fn reload(&self, paths: &Paths) -> Result<()> {
        let key = certified_key(paths, &self.provider)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        Ok(())
    }
}

fn certified_key(paths: &Paths, provider: &rustls::crypto::CryptoProvider) -> Result<CertifiedKey> {
    let certs = read_certs(&paths.cert)?;
    let key = read_key(&paths.key)?;
    let key = provider
        .key_provider
        .load_private_key(key)
        .context("loading the node's key")?;
    let certified = CertifiedKey::new(certs, key);
    certified
        .keys_match()
        .context("the node's certificate and key do not belong together")?;
    Ok(certified)
}

impl ResolvesServerCert for NodeCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// Builds the server configuration from the node's certificate, key and CA.
pub fn server_config(paths: &Paths, client_certificates: ClientCertificates) -> Result<ServerTls> {
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
    let node_cert = Arc::new(
        NodeCert::load(paths, provider.clone()).context("loading the server certificate")?,
    );
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_client_cert_verifier(trust.clone())
        .with_cert_resolver(node_cert.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(ServerTls {
        config: Arc::new(config),
        trust,
        node_cert,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn presented(cert: &NodeCert) -> Vec<u8> {
        cert.current.read().unwrap_or_else(|e| e.into_inner()).cert[0].to_vec()
    }

    /// A reload presents the files' new certificate; files that do not belong together
    /// are refused and the previous certificate stays.
    #[test]
    fn node_certificate_reloads() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let paths = Paths::new(dir.path(), "node");
        crate::pki::ensure(&paths, "node")?;
        let tls = server_config(&paths, ClientCertificates::Request)?;
        let before = presented(&tls.node_cert);
        let ca = crate::pki::Authority::load(&paths.ca_cert, &paths.ca_key)?;
        let key = fs::read_to_string(&paths.key)?;
        fs::write(&paths.cert, ca.renew("node", &key)?)?;
        tls.node_cert.reload(&paths)?;
        let after = presented(&tls.node_cert);
        assert_ne!(before, after);
        // A certificate of another key: refused.
        let (other, _) = ca.issue("node")?;
        fs::write(&paths.cert, other)?;
        assert!(tls.node_cert.reload(&paths).is_err());
        assert_eq!(presented(&tls.node_cert), after);
        Ok(())
    }
}
