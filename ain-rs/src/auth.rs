//! JWT (HS256) for control rpcs, as in Ethereum's Engine API: a 32-byte
//! secret shared by server and client, a token per request whose `iat` must be
//! within ±60 s of the server's clock.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;
use std::task::{Context, Poll};
use std::time::{SystemTime, UNIX_EPOCH};

/// How far `iat` may be from the server's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 60;

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The shared secret.
#[derive(Clone)]
pub struct JwtSecret([u8; 32]);

impl std::fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtSecret(..)")
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl JwtSecret {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses 64 hex digits, with an optional `0x` and surrounding whitespace.
    pub fn from_hex(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let t = t.strip_prefix("0x").unwrap_or(t);
        let bytes = hex::decode(t).map_err(|e| format!("not hex: {e}"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("{} bytes, expected 32", b.len()))?;
        Ok(Self(bytes))
    }

    /// Reads a secret file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read auth secret {}: {e}", path.display()))?;
        Self::from_hex(&text).map_err(|e| format!("auth secret {} is invalid: {e}", path.display()))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn mac(&self, signing_input: &str) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(signing_input.as_bytes());
        mac
    }

    /// A token issued now.
    pub fn token(&self) -> String {
        self.token_at(now())
    }

    /// A token issued at `iat` (seconds since the epoch).
    pub fn token_at(&self, iat: i64) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(format!(r#"{{"iat":{iat}}}"#))
        );
        let sig = URL_SAFE_NO_PAD.encode(self.mac(&input).finalize().into_bytes());
        format!("{input}.{sig}")
    }

    /// Checks a token's signature and freshness.
    pub fn verify(&self, token: &str) -> Result<(), String> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("malformed JWT".into());
        };
        let header: serde_json::Value = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("malformed JWT header")?;
        if header["alg"] != "HS256" {
            return Err(format!("unsupported JWT algorithm {}", header["alg"]));
        }
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| "malformed JWT signature")?;
        self.mac(&format!("{h}.{c}"))
            .verify_slice(&sig)
            .map_err(|_| "JWT signature does not verify (wrong secret?)")?;
        let claims: serde_json::Value = URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or("malformed JWT claims")?;
        let iat = claims["iat"].as_i64().ok_or("JWT has no iat claim")?;
        let skew = (now() - iat).abs();
        if skew > MAX_CLOCK_SKEW_SECS {
            return Err(format!(
                "stale JWT: iat is {skew} s from the server's clock (max {MAX_CLOCK_SKEW_SECS})"
            ));
        }
        Ok(())
    }

    /// Checks an `Authorization: Bearer <token>` header value.
    pub fn verify_header(&self, value: Option<&str>) -> Result<(), String> {
        let value = value.ok_or("missing Authorization: Bearer <JWT> header")?;
        let token = value
            .strip_prefix("Bearer ")
            .ok_or("Authorization header is not a Bearer token")?;
        self.verify(token.trim())
    }
}

/// Outcome of checking an HTTP request's token, for the JSON-RPC methods.
#[derive(Clone, Debug)]
pub struct AuthStatus(pub Result<(), String>);

/// What [`AuthLayer`] does to each HTTP request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// Server side: check the token and record the outcome in the request
    /// extensions (a WebSocket keeps its upgrade request's outcome).
    Check,
    /// Client side: add a fresh `Authorization` header.
    Add,
}

/// Tower layer for JWT auth over HTTP; without a secret it does nothing.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    pub secret: Option<JwtSecret>,
    pub mode: AuthMode,
}

#[derive(Clone, Debug)]
pub struct Auth<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Auth<S>;
    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            layer: self.clone(),
        }
    }
}

impl<S, B> tower::Service<http::Request<B>> for Auth<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if let Some(secret) = &self.layer.secret {
            match self.layer.mode {
                AuthMode::Check => {
                    let header = req
                        .headers()
                        .get(http::header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok());
                    let status = AuthStatus(secret.verify_header(header));
                    req.extensions_mut().insert(status);
                }
                AuthMode::Add => {
                    if let Ok(v) =
                        http::HeaderValue::from_str(&format!("Bearer {}", secret.token()))
                    {
                        req.headers_mut().insert(http::header::AUTHORIZATION, v);
                    }
                }
            }
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_and_fail_clearly() {
        let s = JwtSecret::from_bytes([7; 32]);
        assert_eq!(s.verify(&s.token()), Ok(()));
        assert!(s
            .verify(&s.token_at(now() - 61))
            .unwrap_err()
            .contains("stale"));
        assert!(s
            .verify(&s.token_at(now() + 61))
            .unwrap_err()
            .contains("stale"));
        let other = JwtSecret::from_bytes([8; 32]);
        assert!(other
            .verify(&s.token())
            .unwrap_err()
            .contains("does not verify"));
        assert!(s.verify("a.b").unwrap_err().contains("malformed"));
        assert!(s.verify_header(None).unwrap_err().contains("missing"));
        assert!(s
            .verify_header(Some("Basic x"))
            .unwrap_err()
            .contains("Bearer"));
        assert_eq!(
            JwtSecret::from_hex(&format!("0x{}\n", s.to_hex()))
                .unwrap()
                .0,
            s.0
        );
        assert!(JwtSecret::from_hex("abcd")
            .unwrap_err()
            .contains("expected 32"));
    }
}
