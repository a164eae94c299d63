//! The certificate authority and certificates, as `icinga2 pki` and `icinga2 api setup`
//! manage them (seed 001): a CA in `<data>/ca`, the node's key and certificate in
//! `<data>/certs`, certificate signing requests signed by the CA.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateSigningRequestParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

/// How long a CA is valid (Icinga: 15 years).
const CA_VALIDITY: Duration = Duration::days(15 * 365);
/// How long a signed certificate is valid (Icinga: 397 days, the browsers' maximum).
const CERT_VALIDITY: Duration = Duration::days(397);

/// Paths of the PKI files below a data directory.
#[derive(Clone, Debug)]
pub struct Paths {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Paths {
    pub fn new(data_dir: &Path, node_name: &str) -> Self {
        Paths {
            ca_cert: data_dir.join("ca/ca.crt"),
            ca_key: data_dir.join("ca/ca.key"),
            cert: data_dir.join(format!("certs/{node_name}.crt")),
            key: data_dir.join(format!("certs/{node_name}.key")),
        }
    }

    /// The node's own copy of the CA certificate (Icinga keeps `certs/ca.crt`).
    pub fn trusted_ca(&self) -> PathBuf {
        self.cert.with_file_name("ca.crt")
    }
}

/// A loaded CA that can sign.
pub struct Authority {
    cert: Certificate,
    key: KeyPair,
    pem: String,
}

impl Authority {
    /// Creates a new CA and writes it (refuses to overwrite an existing one).
    pub fn create(cert_path: &Path, key_path: &Path) -> Result<Authority> {
        if cert_path.exists() {
            bail!("CA certificate {} already exists", cert_path.display());
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "Auspex CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params, CA_VALIDITY);
        let cert = params.self_signed(&key)?;
        write_private(key_path, key.serialize_pem())?;
        write_public(cert_path, &cert.pem())?;
        let pem = cert.pem();
        Ok(Authority { cert, key, pem })
    }

    /// Loads a CA written by [`Authority::create`] (or by `icinga2 pki new-ca`).
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Authority> {
        let pem = read(cert_path)?;
        let key = KeyPair::from_pem(&read(key_path)?)
            .with_context(|| format!("reading CA key {}", key_path.display()))?;
        let params = CertificateParams::from_ca_cert_pem(&pem)
            .with_context(|| format!("reading CA certificate {}", cert_path.display()))?;
        // Re-signing the parsed parameters gives an issuer with the same name and key.
        let cert = params.self_signed(&key)?;
        Ok(Authority { cert, key, pem })
    }

    /// The CA certificate as written on disk.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Issues a certificate for `cn` with a fresh key; returns (certificate PEM, key PEM).
    pub fn issue(&self, cn: &str) -> Result<(String, String)> {
        let key = KeyPair::generate()?;
        let params = leaf_params(cn)?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// A new certificate for `cn` with an existing key (PEM), valid for the usual time.
    ///
    /// # Errors
    /// The key cannot be read, or signing fails.
    pub fn renew(&self, cn: &str, key_pem: &str) -> Result<String> {
        self.issue_with_key(cn, key_pem, CERT_VALIDITY)
    }

    /// A certificate for `cn` with an existing key, valid for `valid_for` from now.
    ///
    /// # Errors
    /// The key cannot be read, or signing fails.
    pub fn issue_with_key(&self, cn: &str, key_pem: &str, valid_for: Duration) -> Result<String> {
        let key = KeyPair::from_pem(key_pem).context("reading the node's key")?;
        let mut params = leaf_params(cn)?;
        validity(&mut params, valid_for);
        Ok(params.signed_by(&key, &self.cert, &self.key)?.pem())
    }

    /// Signs a certificate signing request; the CN and subject alternative names are taken
    /// from the request, validity and usages are ours.
    pub fn sign_csr(&self, csr_pem: &str) -> Result<String> {
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .context("parsing the certificate signing request")?;
        let cn = common_name_of(&csr.params).context("the request has no common name")?;
        let fresh = leaf_params(&cn)?;
        csr.params.not_before = fresh.not_before;
        csr.params.not_after = fresh.not_after;
        csr.params.serial_number = fresh.serial_number;
        csr.params.is_ca = IsCa::ExplicitNoCa;
        csr.params.key_usages = fresh.key_usages;
        csr.params.extended_key_usages = fresh.extended_key_usages;
        if csr.params.subject_alt_names.is_empty() {
            csr.params.subject_alt_names = fresh.subject_alt_names;
        }
        Ok(csr.signed_by(&self.cert, &self.key)?.pem())
    }
}

/// A key and a certificate signing request for `cn` (`pki new-cert`).
pub fn new_csr(cn: &str) -> Result<(String, String)> {
    let key = KeyPair::generate()?;
    // A request carries the subject only; validity and usages are the signer's choice.
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.subject_alt_names = vec![SanType::DnsName(cn.try_into()?)];
    let csr = params.serialize_request(&key)?;
    Ok((csr.pem()?, key.serialize_pem()))
}

/// Creates the CA (if missing) and the node certificate (if missing): `api setup`.
/// Returns whether anything was created.
pub fn ensure(paths: &Paths, node_name: &str) -> Result<bool> {
    let mut created = false;
    let ca = if paths.ca_cert.exists() {
        Authority::load(&paths.ca_cert, &paths.ca_key)?
    } else {
        created = true;
        Authority::create(&paths.ca_cert, &paths.ca_key)?
    };
    if !paths.cert.exists() || !paths.key.exists() {
        let (cert, key) = ca.issue(node_name)?;
        write_private(&paths.key, &key)?;
        write_public(&paths.cert, &cert)?;
        created = true;
    }
    if !paths.trusted_ca().exists() {
        write_public(&paths.trusted_ca(), ca.pem())?;
    }
    Ok(created)
}

/// When the certificate in `path` (PEM) expires.
///
/// # Errors
/// The file cannot be read or holds no certificate.
pub fn not_after(path: &Path) -> Result<OffsetDateTime> {
    let pem = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem)
        .map_err(|e| anyhow::anyhow!("parsing {}: {e}", path.display()))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| anyhow::anyhow!("parsing {}: {e}", path.display()))?;
    Ok(OffsetDateTime::from_unix_timestamp(
        cert.validity().not_after.timestamp(),
    )?)
}

/// How long before its expiry the node certificate is renewed (Icinga: 30 days).
pub const RENEW_BEFORE: Duration = Duration::days(30);

/// Renews the node certificate with the CA when it expires within `margin` (or has
/// expired), keeping its key; the new certificate replaces the old one atomically.
/// Returns the new expiry, or `None` when no renewal was due.
///
/// # Errors
/// The certificate, the key or the CA cannot be read (a node without the CA's key cannot
/// renew its own certificate), or the new one cannot be written.
pub fn renew_if_due(
    paths: &Paths,
    node_name: &str,
    margin: Duration,
) -> Result<Option<OffsetDateTime>> {
    let expires = not_after(&paths.cert)?;
    if expires - OffsetDateTime::now_utc() > margin {
        return Ok(None);
    }
    let ca = Authority::load(&paths.ca_cert, &paths.ca_key)?;
    let key = read(&paths.key)?;
    let cert = ca.renew(node_name, &key)?;
    write_atomic(&paths.cert, cert.as_bytes())?;
    Ok(Some(not_after(&paths.cert)?))
}

/// Replaces a file in one step: a temporary file beside it, synced, renamed over it.
fn write_atomic(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().context("a file without a directory")?;
    let tmp = dir.join(format!(
        ".{}.new",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file")
    ));
    let mut f = fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

fn leaf_params(cn: &str) -> Result<CertificateParams> {
    let mut sans = vec![SanType::DnsName(cn.try_into()?)];
    if cn != "localhost" {
        sans.push(SanType::DnsName("localhost".try_into()?));
    }
    sans.push(SanType::IpAddress([127, 0, 0, 1].into()));
    sans.push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.subject_alt_names = sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    // Icinga certificates serve as both: the API server and cluster/API clients.
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    validity(&mut params, CERT_VALIDITY);
    Ok(params)
}

fn validity(params: &mut CertificateParams, valid_for: Duration) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + valid_for;
    let serial: [u8; 16] = rand::random();
    // A positive serial: clear the top bit.
    let mut serial = serial.to_vec();
    serial[0] &= 0x7f;
    params.serial_number = Some(SerialNumber::from_slice(&serial));
}

fn common_name_of(params: &CertificateParams) -> Option<String> {
    params
        .distinguished_name
        .iter()
        .find(|(t, _)| matches!(t, DnType::CommonName))
        .map(|(_, v)| dn_value_string(v))
}

fn dn_value_string(v: &rcgen::DnValue) -> String {
    match v {
        rcgen::DnValue::Utf8String(s) => s.clone(),
        rcgen::DnValue::PrintableString(s) => s.as_str().to_string(),
        rcgen::DnValue::Ia5String(s) => s.as_str().to_string(),
        _ => String::new(),
    }
}

/// The common name of a DER certificate's subject.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Writes a public file (certificate, request).
pub fn write_public(path: &Path, contents: &str) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(path, contents).with_context(|| format!("writing {}", path.display()))
}

/// Writes a private key readable by the owner only.
pub fn write_private(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(contents.as_ref())
        .with_context(|| format!("writing {}", path.display()))
}

/// Connects to `host:port` and returns the certificate the server presents, as PEM,
/// without trusting it (`pki save-cert`: the operator pins what they fetched).
pub async fn fetch_certificate(host: &str, port: u16) -> Result<String> {
    use std::sync::Arc;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .with_context(|| format!("connecting to {host}:{port}"))?;
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .with_context(|| format!("'{host}' is not a valid host name or address"))?;
    let tls = connector
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS handshake with {host}:{port}"))?;
    let cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .context("the server presented no certificate")?;
    Ok(pem_encode("CERTIFICATE", cert.as_ref()))
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Accepts any server certificate but still checks the handshake signatures.
#[derive(Debug)]
struct AcceptAny(std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
