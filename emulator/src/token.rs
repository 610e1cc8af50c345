//! Access tokens and client assertions: HS256 JWTs minted and verified by the emulator.
//!
//! Tokens look like Entra ID's app-only tokens (`header.payload.signature`, base64url) with
//! the claims Graph clients read: `aud` (`https://graph.microsoft.com`), `iss`, `tid`,
//! `appid`, `roles`, `iat`, `nbf`, `exp`, `idtyp` = `app`. They are signed with HMAC-SHA256
//! under a random key (per process, or kept in the state directory), so a token from another emulator, an edited
//! token, or a forged one fails verification (401). HMAC is written here over `sha2` rather
//! than adding a crate for twenty lines.
//!
//! Client assertions (federated credentials, e.g. GitHub OIDC) are parsed but their
//! signature is NOT verified: the emulator has no issuer keys. What is checked is listed on
//! [`check_assertion`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The Graph resource every token is issued for.
pub const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";
/// The audience a federated credential expects by default (`graph-api.md` §5.2).
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; BLOCK];
    let mut opad = [0x5cu8; BLOCK];
    for i in 0..BLOCK {
        ipad[i] ^= k[i];
        opad[i] ^= k[i];
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// Constant-time comparison, so signature checks do not leak timing.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A salted hash of a client secret, `sha256$<salt hex>$<hex SHA-256(salt || secret)>`,
/// with a random 16-byte salt: the emulator stores and persists only this, so two apps with
/// one secret do not share a hash and a leaked state file cannot be matched against a table
/// of unsalted hashes. (A development tool's secrets do not warrant a slow KDF.)
pub fn secret_hash(secret: &str) -> String {
    let mut salt = [0u8; 16];
    rand::fill(&mut salt);
    salted(&salt, secret)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn salted(salt: &[u8], secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(secret.as_bytes());
    format!("sha256${}${}", hex(salt), hex(&h.finalize()))
}

/// Whether `secret` matches a stored hash from [`secret_hash`] (constant-time compare).
/// A bare hex SHA-256 (state directories written before salting) is still accepted.
pub fn secret_matches(stored: &str, secret: &str) -> bool {
    let computed = match stored.split('$').collect::<Vec<_>>().as_slice() {
        ["sha256", salt, _] => {
            let Some(salt) = (0..salt.len())
                .step_by(2)
                .map(|i| {
                    salt.get(i..i + 2)
                        .and_then(|x| u8::from_str_radix(x, 16).ok())
                })
                .collect::<Option<Vec<u8>>>()
            else {
                return false;
            };
            salted(&salt, secret)
        }
        _ => hex(&Sha256::digest(secret.as_bytes())),
    };
    ct_eq(stored.as_bytes(), computed.as_bytes())
}

/// The claims of an emulator access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Audience (`https://graph.microsoft.com`).
    pub aud: String,
    /// Issuer, `https://sts.windows.net/{tid}/` as Entra's v1 app tokens.
    pub iss: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds).
    pub nbf: i64,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Tenant id.
    pub tid: String,
    /// Client (application) id.
    pub appid: String,
    /// Application roles consented in `tid`, sorted.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Token type: always `app`.
    #[serde(default)]
    pub idtyp: String,
    /// Unique token id.
    #[serde(default)]
    pub uti: String,
}

/// Why a bearer token was refused (all map to 401 `InvalidAuthenticationToken`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not three base64url parts of JSON.
    Malformed,
    /// Signature does not match the emulator's key.
    BadSignature,
    /// `exp` has passed.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// Audience is not Graph.
    WrongAudience,
}

impl TokenError {
    /// Message in the words Graph uses.
    pub fn message(self) -> &'static str {
        match self {
            TokenError::Malformed => "IDX14100: JWT is not well formed, there are no dots (.).",
            TokenError::BadSignature => "Access token validation failure. Invalid signature.",
            TokenError::Expired => "Lifetime validation failed, the token is expired.",
            TokenError::NotYetValid => "Lifetime validation failed, the token is not yet valid.",
            TokenError::WrongAudience => "Access token validation failure. Invalid audience.",
        }
    }
}

/// Signs `claims` as a compact HS256 JWT.
pub fn sign(key: &[u8], claims: &Claims) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"HS256","kid":"rampart-emulator"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let sig = URL_SAFE_NO_PAD.encode(hmac_sha256(key, signing_input.as_bytes()));
    format!("{signing_input}.{sig}")
}

/// Verifies a compact JWT minted by [`sign`] at time `now` (Unix seconds).
pub fn verify(key: &[u8], token: &str, now: i64) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header: Value = decode_json(h).ok_or(TokenError::Malformed)?;
    let payload_bytes = URL_SAFE_NO_PAD
        .decode(p)
        .map_err(|_| TokenError::Malformed)?;
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| TokenError::Malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(TokenError::BadSignature);
    }
    let expected = hmac_sha256(key, format!("{h}.{p}").as_bytes());
    if !ct_eq(&expected, &sig) {
        return Err(TokenError::BadSignature);
    }
    let claims: Claims =
        serde_json::from_slice(&payload_bytes).map_err(|_| TokenError::Malformed)?;
    if claims.aud != GRAPH_AUDIENCE && claims.aud != "00000003-0000-0000-c000-000000000000" {
        return Err(TokenError::WrongAudience);
    }
    if now >= claims.exp {
        return Err(TokenError::Expired);
    }
    if now < claims.nbf {
        return Err(TokenError::NotYetValid);
    }
    Ok(claims)
}

fn decode_json(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The interesting claims of a client assertion.
#[derive(Debug, Clone, PartialEq)]
pub struct Assertion {
    /// `iss` claim.
    pub iss: String,
    /// `sub` claim.
    pub sub: String,
    /// `aud` claim (string or array, flattened).
    pub aud: Vec<String>,
    /// `exp` claim, if any.
    pub exp: Option<i64>,
    /// `nbf` claim, if any.
    pub nbf: Option<i64>,
}

/// Why an assertion was refused, with the AADSTS code Entra uses.
#[derive(Debug, Clone, PartialEq)]
pub enum AssertionError {
    /// AADSTS50027: not a JWT.
    Malformed,
    /// AADSTS700024: outside `nbf..exp`.
    OutsideValidity,
}

/// Parses a client assertion: it must be a three-part compact JWT whose payload has string
/// `iss` and `sub`, and whose `exp`/`nbf` (if present) bracket `now`. The signature is not
/// verified (the emulator has no keys of external issuers); matching `iss`/`sub`/`aud`
/// against the app's federated credentials is done by the caller.
pub fn check_assertion(assertion: &str, now: i64) -> Result<Assertion, AssertionError> {
    let parts: Vec<&str> = assertion.split('.').collect();
    if parts.len() != 3 || parts[2].is_empty() {
        return Err(AssertionError::Malformed);
    }
    decode_json(parts[0])
        .filter(Value::is_object)
        .ok_or(AssertionError::Malformed)?;
    let payload = decode_json(parts[1]).ok_or(AssertionError::Malformed)?;
    let s = |k: &str| payload.get(k).and_then(Value::as_str).map(str::to_string);
    let (Some(iss), Some(sub)) = (s("iss"), s("sub")) else {
        return Err(AssertionError::Malformed);
    };
    let aud = match payload.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let exp = payload.get("exp").and_then(Value::as_i64);
    let nbf = payload.get("nbf").and_then(Value::as_i64);
    if exp.is_some_and(|e| now >= e) || nbf.is_some_and(|n| now < n) {
        return Err(AssertionError::OutsideValidity);
    }
    Ok(Assertion {
        iss,
        sub,
        aud,
        exp,
        nbf,
    })
}

/// Builds an unsigned-looking test assertion (signature part is a fixed placeholder) with
/// the given claims; handy for tests of federated credentials.
pub fn make_assertion(iss: &str, sub: &str, aud: &str, exp: i64) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let p =
        URL_SAFE_NO_PAD.encode(json!({"iss": iss, "sub": sub, "aud": aud, "exp": exp}).to_string());
    format!("{h}.{p}.c2lnbmF0dXJl")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_rfc4231_case2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    fn claims(exp: i64) -> Claims {
        Claims {
            aud: GRAPH_AUDIENCE.into(),
            iss: "x".into(),
            iat: 0,
            nbf: 0,
            exp,
            tid: "t".into(),
            appid: "a".into(),
            roles: vec![],
            idtyp: "app".into(),
            uti: "u".into(),
        }
    }

    #[test]
    fn sign_verify_and_tamper() {
        let t = sign(b"k", &claims(100));
        assert!(verify(b"k", &t, 50).is_ok());
        assert_eq!(verify(b"k", &t, 100), Err(TokenError::Expired));
        assert_eq!(verify(b"other", &t, 50), Err(TokenError::BadSignature));
        assert_eq!(verify(b"k", "abc", 50), Err(TokenError::Malformed));
        let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Claims {
                tid: "evil".into(),
                ..claims(100)
            })
            .unwrap(),
        );
        assert_eq!(
            verify(b"k", &parts.join("."), 50),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn assertion_checks() {
        let a = make_assertion(
            "https://token.actions.githubusercontent.com",
            "repo:o/r:ref:refs/heads/main",
            FEDERATED_AUDIENCE,
            100,
        );
        assert_eq!(
            check_assertion(&a, 10).unwrap().sub,
            "repo:o/r:ref:refs/heads/main"
        );
        assert_eq!(
            check_assertion(&a, 100),
            Err(AssertionError::OutsideValidity)
        );
        assert_eq!(check_assertion("x.y", 10), Err(AssertionError::Malformed));
    }
}
