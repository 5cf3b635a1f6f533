//! HTTP Digest for SIP (RFC 3261 §22, RFC 2617, RFC 7616 MD5 as JsSIP uses it).
//!
//! Server side uses stateless nonces: `hex(timestamp) . hex(HMAC-SHA256(secret,
//! timestamp|realm))[..32]`, so any node holding the secret can verify them and
//! expiry needs no table. Time is seconds on a clock the caller supplies.

use md5::{Digest as _, Md5};
use sha2::Sha256;
use thiserror::Error;

use crate::header::auth::Auth;
use crate::header::HeaderName;
use crate::message::{Request, Response};
use crate::response::make_response;
use crate::uri::Uri;
use crate::Method;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DigestError {
    #[error("no credentials for this realm")]
    Missing,
    #[error("unsupported scheme, algorithm or qop")]
    Unsupported,
    #[error("credentials lack a required parameter")]
    Malformed,
    #[error("nonce was not issued by us")]
    BadNonce,
    #[error("nonce expired")]
    Stale,
    #[error("digest uri does not match the Request-URI")]
    UriMismatch,
    #[error("wrong response (password)")]
    BadResponse,
}

/// `MD5(username:realm:password)` in lower-case hex.
pub fn ha1(username: &str, realm: &str, password: &str) -> String {
    md5_hex(&[username, ":", realm, ":", password])
}

fn md5_hex(parts: &[&str]) -> String {
    let mut h = Md5::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

fn hmac_sha256(key: &[u8], msg: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for m in msg {
        inner.update(m);
    }
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Server-side digest: issues challenges and verifies credentials.
#[derive(Clone)]
pub struct DigestServer {
    secret: Vec<u8>,
    nonce_ttl: u64,
}

impl std::fmt::Debug for DigestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestServer")
            .field("nonce_ttl", &self.nonce_ttl)
            .finish_non_exhaustive()
    }
}

impl DigestServer {
    /// `secret` should be at least 32 random bytes shared by all nodes;
    /// `nonce_ttl_secs` is how long a nonce stays fresh.
    pub fn new(secret: &[u8], nonce_ttl_secs: u64) -> Self {
        Self {
            secret: secret.to_vec(),
            nonce_ttl: nonce_ttl_secs,
        }
    }

    fn nonce_mac(&self, ts: &str, realm: &str) -> String {
        let mac = hmac_sha256(&self.secret, &[ts.as_bytes(), b"|", realm.as_bytes()]);
        hex::encode(&mac[..16])
    }

    pub fn nonce(&self, realm: &str, now_secs: u64) -> String {
        let ts = format!("{now_secs:016x}");
        let mac = self.nonce_mac(&ts, realm);
        format!("{ts}{mac}")
    }

    fn opaque(&self, realm: &str) -> String {
        hex::encode(&hmac_sha256(&self.secret, &[b"opaque|", realm.as_bytes()])[..8])
    }

    /// The WWW-Authenticate / Proxy-Authenticate value.
    pub fn challenge(&self, realm: &str, now_secs: u64, stale: bool) -> Auth {
        let mut a = Auth::digest()
            .with("realm", realm, true)
            .with("nonce", &self.nonce(realm, now_secs), true)
            .with("opaque", &self.opaque(realm), true)
            .with("algorithm", "MD5", false)
            .with("qop", "auth", true);
        if stale {
            a = a.with("stale", "true", false);
        }
        a
    }

    /// A 401 (or 407 when `proxy`) response to `req` carrying a fresh challenge.
    pub fn challenge_response(
        &self,
        req: &Request,
        realm: &str,
        now_secs: u64,
        stale: bool,
        proxy: bool,
        to_tag: &str,
    ) -> Response {
        let (status, name) = if proxy {
            (407, HeaderName::ProxyAuthenticate)
        } else {
            (401, HeaderName::WwwAuthenticate)
        };
        let mut r = make_response(req, status, Some(to_tag));
        r.headers
            .push(name, self.challenge(realm, now_secs, stale).to_string());
        r
    }

    /// Checks `nonce` was minted by us for `realm`; `Err(Stale)` if it aged out.
    pub fn check_nonce(&self, nonce: &str, realm: &str, now_secs: u64) -> Result<(), DigestError> {
        let (ts, mac) = (nonce.get(..16), nonce.get(16..));
        let (Some(ts), Some(mac)) = (ts, mac) else {
            return Err(DigestError::BadNonce);
        };
        if !constant_time_eq(mac.as_bytes(), self.nonce_mac(ts, realm).as_bytes()) {
            return Err(DigestError::BadNonce);
        }
        let issued = u64::from_str_radix(ts, 16).map_err(|_| DigestError::BadNonce)?;
        if issued > now_secs.saturating_add(60) || now_secs.saturating_sub(issued) > self.nonce_ttl
        {
            return Err(DigestError::Stale);
        }
        Ok(())
    }

    /// Verifies `creds` for a request with `method` and `request_uri`, given the
    /// user's stored HA1. The caller looked HA1 up by `creds.get("username")`.
    pub fn verify(
        &self,
        creds: &Auth,
        method: &Method,
        request_uri: &Uri,
        realm: &str,
        ha1: &str,
        now_secs: u64,
    ) -> Result<(), DigestError> {
        if !creds.is_digest() {
            return Err(DigestError::Unsupported);
        }
        if creds
            .get("algorithm")
            .is_some_and(|a| !a.eq_ignore_ascii_case("MD5"))
        {
            return Err(DigestError::Unsupported);
        }
        let get = |n| creds.get(n).ok_or(DigestError::Malformed);
        if get("realm")? != realm {
            return Err(DigestError::Missing);
        }
        get("username")?;
        let nonce = get("nonce")?;
        let uri = get("uri")?;
        let response = get("response")?;
        // The digest-uri must name the Request-URI (RFC 2617 §3.2.2.5).
        let same_uri =
            uri == request_uri.to_string() || Uri::parse(uri).is_ok_and(|u| &u == request_uri);
        if !same_uri {
            return Err(DigestError::UriMismatch);
        }
        let expected = match creds.get("qop") {
            None => response_no_qop(ha1, nonce, method, uri),
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let nc = get("nc")?;
                let cnonce = get("cnonce")?;
                if nc.len() != 8 || !nc.bytes().all(|c| c.is_ascii_hexdigit()) {
                    return Err(DigestError::Malformed);
                }
                response_auth(ha1, nonce, nc, cnonce, method, uri)
            }
            Some(_) => return Err(DigestError::Unsupported),
        };
        if !constant_time_eq(
            expected.as_bytes(),
            response.to_ascii_lowercase().as_bytes(),
        ) {
            return Err(DigestError::BadResponse);
        }
        // Checked last so a right password with an old nonce yields stale=true (§22.4).
        self.check_nonce(nonce, realm, now_secs)
    }
}

/// The first Digest credentials in `auths` for `realm`.
pub fn find_credentials<'a>(auths: &'a [Auth], realm: &str) -> Option<&'a Auth> {
    auths
        .iter()
        .find(|a| a.is_digest() && a.get("realm") == Some(realm))
}

fn ha2(method: &Method, uri: &str) -> String {
    md5_hex(&[method.as_str(), ":", uri])
}

fn response_no_qop(ha1: &str, nonce: &str, method: &Method, uri: &str) -> String {
    md5_hex(&[ha1, ":", nonce, ":", &ha2(method, uri)])
}

fn response_auth(
    ha1: &str,
    nonce: &str,
    nc: &str,
    cnonce: &str,
    method: &Method,
    uri: &str,
) -> String {
    md5_hex(&[
        ha1,
        ":",
        nonce,
        ":",
        nc,
        ":",
        cnonce,
        ":auth:",
        &ha2(method, uri),
    ])
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the client knows: the password, or only HA1 (as webitel-sdk gives JsSIP).
#[derive(Debug, Clone, Copy)]
pub enum ClientSecret<'a> {
    Password(&'a str),
    Ha1(&'a str),
}

/// Client side: computes Authorization credentials answering `challenge`.
/// `cnonce` should be random; `nc` counts uses of this nonce (starting at 1).
pub fn authorize(
    challenge: &Auth,
    method: &Method,
    uri: &str,
    username: &str,
    secret: ClientSecret<'_>,
    cnonce: &str,
    nc: u32,
) -> Result<Auth, DigestError> {
    if !challenge.is_digest()
        || challenge
            .get("algorithm")
            .is_some_and(|a| !a.eq_ignore_ascii_case("MD5"))
    {
        return Err(DigestError::Unsupported);
    }
    let realm = challenge.get("realm").ok_or(DigestError::Malformed)?;
    let nonce = challenge.get("nonce").ok_or(DigestError::Malformed)?;
    let ha1 = match secret {
        ClientSecret::Password(p) => ha1(username, realm, p),
        ClientSecret::Ha1(h) => h.to_ascii_lowercase(),
    };
    let qop_auth = challenge
        .get("qop")
        .map(|q| q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth")));
    let mut a = Auth::digest()
        .with("username", username, true)
        .with("realm", realm, true)
        .with("nonce", nonce, true)
        .with("uri", uri, true);
    match qop_auth {
        None => {
            a = a.with("response", &response_no_qop(&ha1, nonce, method, uri), true);
        }
        Some(true) => {
            let nc = format!("{nc:08x}");
            a = a
                .with(
                    "response",
                    &response_auth(&ha1, nonce, &nc, cnonce, method, uri),
                    true,
                )
                .with("qop", "auth", false)
                .with("nc", &nc, false)
                .with("cnonce", cnonce, true);
        }
        Some(false) => return Err(DigestError::Unsupported),
    }
    a = a.with("algorithm", "MD5", false);
    if let Some(o) = challenge.get("opaque") {
        a = a.with("opaque", o, true);
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_3_5_example_response() {
        // The worked example of RFC 2617 §3.5 (HTTP GET), reusing our MD5 helpers.
        let h1 = ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
        let method = Method::Other("GET".into());
        let r = response_auth(
            &h1,
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "00000001",
            "0a4f113b",
            &method,
            "/dir/index.html",
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc4231_hmac_sha256_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
