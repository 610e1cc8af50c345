//! Certificate credentials without OpenSSL: a client assertion signed with the app's
//! certificate key, for `azure_identity`'s `ClientAssertionCredential`.
//!
//! azure_identity 1.x offers `ClientCertificateCredential` only behind a feature that links
//! OpenSSL. rampart already carries aws-lc-rs (reqwest's TLS backend), so it builds the
//! assertion itself, as Entra documents it
//! (learn.microsoft.com/entra/identity-platform/certificate-credentials): a JWT with header
//! `{"alg": "PS256", "typ": "JWT", "x5t#S256": <SHA-256 thumbprint>, "x5t": <SHA-1
//! thumbprint>}` and claims `aud` (the tenant's token endpoint), `iss` = `sub` = client id,
//! `jti`, `nbf`, `iat`, `exp` (ten minutes), signed with RSA-PSS/SHA-256.
//!
//! Input: a PEM file (`AZURE_CLIENT_CERTIFICATE_PATH`) holding the certificate and its
//! unencrypted RSA private key (`PRIVATE KEY` or `RSA PRIVATE KEY`), the form
//! `az ad app credential reset --create-cert` writes.
//!
//! Limits: RSA keys only (Entra app certificates are RSA); no PKCS#12/PFX and no encrypted
//! keys (export with `openssl pkcs12 -nodes`); the certificate is hashed, not parsed.

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PSS_SHA256, RsaKeyPair};
use azure_core::http::ClientMethodOptions;
use azure_identity::ClientAssertion;
use base64::Engine as _;
use std::fmt;
use std::sync::Arc;

/// Lifetime of a signed assertion.
pub const ASSERTION_LIFETIME_SECS: i64 = 600;

/// An app certificate and its private key. `Debug` shows only the thumbprint.
pub struct CertificateKey {
    key: RsaKeyPair,
    x5t_s256: String,
    x5t: String,
}

impl fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateKey")
            .field("x5t#S256", &self.x5t_s256)
            .finish_non_exhaustive()
    }
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// PEM blocks as (label, DER bytes).
fn pem_blocks(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            current = Some((label.to_string(), String::new()));
        } else if let Some(label) = line
            .strip_prefix("-----END ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            match current.take() {
                Some((begin, body)) if begin == label => {
                    let der = base64::engine::general_purpose::STANDARD
                        .decode(body.as_bytes())
                        .map_err(|e| format!("the {label} block is not valid base64: {e}"))?;
                    out.push((label.to_string(), der));
                }
                _ => return Err(format!("unbalanced PEM block `{label}`")),
            }
        } else if let Some((_, body)) = current.as_mut() {
            // Skip RFC 1421 headers such as `Proc-Type:` of legacy encrypted keys.
            if !line.contains(':') {
                body.push_str(line);
            }
        }
    }
    Ok(out)
}

impl CertificateKey {
    /// Reads the certificate and key from PEM text. Errors never contain key material.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        let blocks = pem_blocks(text)?;
        if blocks.is_empty() {
            return Err("no PEM blocks found (a PFX/PKCS#12 file? convert it to PEM)".into());
        }
        let cert = blocks
            .iter()
            .find(|(l, _)| l == "CERTIFICATE")
            .map(|(_, d)| d)
            .ok_or("no CERTIFICATE block")?;
        let key = match blocks
            .iter()
            .find(|(l, _)| l.ends_with("PRIVATE KEY"))
            .ok_or("no PRIVATE KEY block")?
        {
            (l, _) if l.contains("ENCRYPTED") => {
                return Err("the private key is encrypted; export it without a password".into());
            }
            (l, d) if l == "PRIVATE KEY" => RsaKeyPair::from_pkcs8(d)
                .map_err(|e| format!("the PKCS#8 private key is not a usable RSA key: {e}"))?,
            (l, d) if l == "RSA PRIVATE KEY" => RsaKeyPair::from_der(d)
                .map_err(|e| format!("the PKCS#1 private key is not a usable RSA key: {e}"))?,
            (l, _) => return Err(format!("unsupported key type `{l}` (RSA keys only)")),
        };
        Ok(Self {
            key,
            x5t_s256: b64url(digest::digest(&digest::SHA256, cert).as_ref()),
            x5t: b64url(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, cert).as_ref()),
        })
    }

    /// The certificate's SHA-256 thumbprint, base64url (as in the `x5t#S256` header).
    pub fn thumbprint_s256(&self) -> &str {
        &self.x5t_s256
    }

    /// A signed client assertion for `client_id` at the token endpoint `audience`.
    pub fn assertion(&self, client_id: &str, audience: &str, now: i64) -> Result<String, String> {
        let header = serde_json::json!({
            "alg": "PS256", "typ": "JWT", "x5t#S256": self.x5t_s256, "x5t": self.x5t,
        });
        let claims = serde_json::json!({
            "aud": audience, "iss": client_id, "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now, "iat": now, "exp": now + ASSERTION_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PSS_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| "signing the client assertion failed".to_string())?;
        Ok(format!("{signing_input}.{}", b64url(&sig)))
    }

    /// The public key (DER, `RSAPublicKey`), for verifying assertions in tests.
    pub fn public_key_der(&self) -> Vec<u8> {
        use aws_lc_rs::signature::KeyPair as _;
        self.key.public_key().as_ref().to_vec()
    }
}

/// The assertion source for one tenant: signs a fresh assertion per token request
/// (azure_identity caches the resulting token).
#[derive(Debug, Clone)]
pub struct CertificateAssertion {
    /// Shared key.
    pub key: Arc<CertificateKey>,
    /// Application id.
    pub client_id: String,
    /// The tenant's token endpoint URL.
    pub audience: String,
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.key
            .assertion(&self.client_id, &self.audience, now)
            .map_err(|m| {
                azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, m)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};

    fn pem(label: &str, der: &[u8]) -> String {
        let b = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn signs_a_verifiable_assertion() {
        let kp = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp).unwrap();
        let text = format!(
            "{}{}",
            pem("CERTIFICATE", b"not parsed, only hashed"),
            pem("PRIVATE KEY", pkcs8.as_ref())
        );
        let key = CertificateKey::from_pem(&text).unwrap();
        assert!(!format!("{key:?}").contains("PRIVATE"));
        let jwt = key
            .assertion("app", "https://login.example/t/oauth2/v2.0/token", 1000)
            .unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let dec = |s: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(s)
                .unwrap()
        };
        let header: serde_json::Value = serde_json::from_slice(&dec(parts[0])).unwrap();
        assert_eq!(header["alg"], "PS256");
        assert_eq!(header["x5t#S256"], key.thumbprint_s256());
        let claims: serde_json::Value = serde_json::from_slice(&dec(parts[1])).unwrap();
        assert_eq!(claims["aud"], "https://login.example/t/oauth2/v2.0/token");
        assert_eq!(claims["exp"], 1600);
        let msg = format!("{}.{}", parts[0], parts[1]);
        UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, key.public_key_der())
            .verify(msg.as_bytes(), &dec(parts[2]))
            .expect("signature verifies");
        assert!(CertificateKey::from_pem("garbage").is_err());
        assert!(
            CertificateKey::from_pem(&pem("ENCRYPTED PRIVATE KEY", b"x"))
                .unwrap_err()
                .contains("CERTIFICATE")
        );
    }
}
