//! The JSON-RPC 2.0 envelope of an HTTP request, checked before jsonrpsee
//! sees it.
//!
//! jsonrpsee 0.26 takes a request whose `id` it cannot represent (an object,
//! an array, a float, a negative number, 2^64) for a notification and answers
//! HTTP 200 with a bare `null`; it answers a notification with `null` too,
//! and lets numbers that overflow a double and nesting of any depth through
//! to the methods. [`EnvelopeLayer`] answers those itself, as the spec says:
//!
//! - not JSON, a number a double cannot hold (`1e400`), or nesting deeper
//!   than [`MAX_DEPTH`]: one `-32700` parse error;
//! - JSON that is not a request (wrong or missing `jsonrpc`, `method` not a
//!   string, an `id` that is not a string, an integer in `0..=u64::MAX` or
//!   `null`, `params` not an array or object, a member given twice, a scalar,
//!   an empty batch): `-32600` invalid request, with the id when it has one;
//! - a batch of more than [`MAX_BATCH`] requests: one `-32004`
//!   (ResourceExhausted) error; a batch's bad entries each get their error
//!   and its good ones are served;
//! - a notification (no `id`) or a batch of only notifications: HTTP 204
//!   with no body. Notifications are not executed.
//!
//! Error replies go with HTTP 200, as jsonrpsee sends its own. WebSocket
//! messages do not pass here (jsonrpsee reads them itself).

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use jsonrpsee::core::BoxError;
use jsonrpsee::server::http::response as jsonrpsee_response;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Deepest nesting of arrays and objects a request may have, counting the
/// request object itself (and the batch array). Real requests use under 10;
/// it stays below serde_json's own limit (127), so the typed parsing of params
/// never meets that one.
pub const MAX_DEPTH: usize = 100;

/// Most requests one batch may hold (geth's default).
pub const MAX_BATCH: usize = 1000;

/// JSON-RPC 2.0 codes.
pub const PARSE_ERROR: i32 = -32700;
pub const INVALID_REQUEST: i32 = -32600;

/// A request id that jsonrpsee can echo back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Id {
    Null,
    Number(u64),
    Str(String),
}

impl Id {
    fn to_json(&self) -> Value {
        match self {
            Id::Null => Value::Null,
            Id::Number(n) => Value::from(*n),
            Id::Str(s) => Value::from(s.as_str()),
        }
    }
}

/// One request object of a body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A well-formed call: jsonrpsee answers it.
    Call,
    /// A well-formed notification: no answer.
    Notification,
    /// Not a valid request; `id` is its id when that one is usable.
    Invalid { id: Id, reason: String },
}

/// What an HTTP body holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not JSON within this module's limits.
    ParseError(String),
    /// Valid JSON, but neither an object nor an array.
    NotARequest,
    Single(Entry),
    Batch(Vec<Entry>),
}

/// Reads `body` once: checks it is JSON within the limits and classifies
/// every request in it. Never fails and never panics on any input.
///
/// A single request in plain JSON (printable ASCII, no escapes, no exponents)
/// is read by a scanner that never builds a value; everything else, and
/// whatever that scanner is unsure of, by serde_json ([`classify_full`]).
/// Both give the same verdict on what the scanner takes.
pub fn classify(body: &[u8]) -> Verdict {
    plain::classify(body).unwrap_or_else(|| classify_full(body))
}

/// [`classify`] by serde_json alone, with a visitor over every value: the
/// reference the plain scanner must agree with, and the one that words the
/// errors.
pub fn classify_full(body: &[u8]) -> Verdict {
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = de::DeserializeSeed::deserialize(
        Request {
            depth: 0,
            top: true,
        },
        &mut de,
    )
    .and_then(|parsed| de.end().map(|()| parsed));
    match parsed {
        Err(e) => Verdict::ParseError(e.to_string()),
        Ok(Parsed::Entry(entry)) => Verdict::Single(entry),
        Ok(Parsed::Batch(entries)) => Verdict::Batch(entries),
        Ok(Parsed::Scalar) => Verdict::NotARequest,
    }
}

/// What one JSON value turned out to be; strings only kept when asked for.
#[derive(Debug)]
enum Kind {
    Null,
    Bool,
    Unsigned(u64),
    Negative,
    Float,
    Str(Option<String>),
    Array,
    Object,
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "a boolean",
            Kind::Unsigned(_) | Kind::Negative | Kind::Float => "a number",
            Kind::Str(_) => "a string",
            Kind::Array => "an array",
            Kind::Object => "an object",
        }
    }
}

fn too_deep<E: de::Error>() -> E {
    E::custom(format_args!("JSON nested deeper than {MAX_DEPTH} levels"))
}

/// Checks one value (and everything in it) against the limits. `depth` is
/// the number of arrays and objects around it.
#[derive(Clone, Copy)]
struct Check {
    depth: usize,
    keep_str: bool,
}

impl<'de> DeserializeSeed<'de> for Check {
    type Value = Kind;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = Kind;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Kind, E> {
        Ok(Kind::Bool)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::Unsigned(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(u64::try_from(v).map_or(Kind::Negative, Kind::Unsigned))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        // serde_json already refuses what overflows; this keeps it so.
        if v.is_finite() {
            Ok(Kind::Float)
        } else {
            Err(E::custom("number out of range"))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(self.keep_str.then(|| v.to_owned())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let inner = Check {
            depth,
            keep_str: false,
        };
        while seq.next_element_seed(inner)?.is_some() {}
        Ok(Kind::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let inner = Check {
            depth,
            keep_str: false,
        };
        while map.next_key_seed(inner)?.is_some() {
            map.next_value_seed(inner)?;
        }
        Ok(Kind::Object)
    }
}

enum Parsed {
    Entry(Entry),
    Batch(Vec<Entry>),
    Scalar,
}

/// A request object, or at the top level a batch of them.
#[derive(Clone, Copy)]
struct Request {
    depth: usize,
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Request {
    type Value = Parsed;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Parsed, D::Error> {
        d.deserialize_any(self)
    }
}

impl Request {
    fn check(self) -> Check {
        Check {
            depth: self.depth,
            keep_str: false,
        }
    }

    fn scalar<E: de::Error>(self) -> Result<Parsed, E> {
        Ok(if self.top {
            Parsed::Scalar
        } else {
            Parsed::Entry(not_an_object())
        })
    }
}

fn not_an_object() -> Entry {
    Entry::Invalid {
        id: Id::Null,
        reason: "a request must be an object".into(),
    }
}

impl<'de> Visitor<'de> for Request {
    type Value = Parsed;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON-RPC request or batch")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Parsed, E> {
        self.scalar()
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Parsed, E> {
        self.scalar()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Parsed, E> {
        self.scalar()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Parsed, E> {
        self.scalar()
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Parsed, E> {
        self.check().visit_f64::<E>(v)?;
        self.scalar()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Parsed, E> {
        self.scalar()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed, A::Error> {
        if !self.top {
            self.check().visit_seq(seq)?;
            return Ok(Parsed::Entry(not_an_object()));
        }
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let entry = Request { depth, top: false };
        let mut entries = Vec::new();
        while let Some(parsed) = seq.next_element_seed(entry)? {
            entries.push(match parsed {
                Parsed::Entry(e) => e,
                // A nested array or scalar is an invalid entry, never a batch.
                Parsed::Batch(_) | Parsed::Scalar => not_an_object(),
            });
        }
        Ok(Parsed::Batch(entries))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let keep = Check {
            depth,
            keep_str: true,
        };
        let mut members = Members::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let slot = match key.as_ref() {
                "jsonrpc" => &mut members.jsonrpc,
                "method" => &mut members.method,
                "id" => &mut members.id,
                "params" => &mut members.params,
                _ => {
                    map.next_value_seed(Check {
                        depth,
                        keep_str: false,
                    })?;
                    continue;
                }
            };
            let kind = map.next_value_seed(keep)?;
            if slot.replace(kind).is_some() && members.duplicate.is_none() {
                members.duplicate = Some(key.into_owned());
            }
        }
        Ok(Parsed::Entry(members.entry()))
    }
}

/// The envelope members of one request object.
#[derive(Default)]
struct Members {
    jsonrpc: Option<Kind>,
    method: Option<Kind>,
    id: Option<Kind>,
    params: Option<Kind>,
    duplicate: Option<String>,
}

impl Members {
    fn entry(self) -> Entry {
        let id = match &self.id {
            None | Some(Kind::Null) => Ok(Id::Null),
            Some(Kind::Unsigned(n)) => Ok(Id::Number(*n)),
            Some(Kind::Str(Some(s))) => Ok(Id::Str(s.clone())),
            Some(other) => Err(format!(
                "\"id\" must be a string, an integer from 0 to {} or null, got {}",
                u64::MAX,
                other.name()
            )),
        };
        let reason = if let Some(key) = &self.duplicate {
            Some(format!("member {key:?} appears more than once"))
        } else if !matches!(&self.jsonrpc, Some(Kind::Str(Some(v))) if v == "2.0") {
            Some(r#""jsonrpc" must be the string "2.0""#.to_string())
        } else if !matches!(self.method, Some(Kind::Str(_))) {
            Some(match &self.method {
                None => r#""method" is missing"#.to_string(),
                Some(k) => format!(r#""method" must be a string, got {}"#, k.name()),
            })
        } else if let Err(e) = &id {
            Some(e.clone())
        } else {
            match &self.params {
                None | Some(Kind::Null | Kind::Array | Kind::Object) => None,
                Some(k) => Some(format!(
                    r#""params" must be an array or an object, got {}"#,
                    k.name()
                )),
            }
        };
        match (reason, self.id.is_some()) {
            (Some(reason), _) => Entry::Invalid {
                id: id.unwrap_or(Id::Null),
                reason,
            },
            (None, true) => Entry::Call,
            (None, false) => Entry::Notification,
        }
    }
}

/// The common case, a single request object in plain JSON, read without
/// serde: control calls carry megabytes of params (10,000 txs as objects, a
/// block payload as one hex string), and serde_json's visitor over every value
/// cost 1.8 ms for 10,000 txs; this scanner takes a fraction of that.
///
/// It takes only a subset of JSON whose every member serde_json reads the
/// same way: printable ASCII without backslashes (so strings need no
/// unescaping and no UTF-8 check, and whitespace is spaces), numbers without
/// exponents and at most [`MAX_NUMBER`] characters (so no double overflows),
/// and nesting within [`MAX_DEPTH`]. On anything else, syntax errors
/// included, it answers `None` and [`classify_full`] decides and words the
/// error. The envelope members are judged by the same [`Members::entry`].
mod plain {
    use super::{Entry, Kind, Members, Verdict, MAX_DEPTH};

    /// Longest number taken: far below the 309 digits that overflow a double.
    const MAX_NUMBER: usize = 300;

    pub(super) fn classify(body: &[u8]) -> Option<Verdict> {
        if !printable_ascii(body) {
            return None;
        }
        let mut scan = Scan { b: body, i: 0 };
        scan.spaces();
        if scan.peek()? != b'{' {
            return None;
        }
        let entry = scan.request()?;
        scan.spaces();
        (scan.i == body.len()).then_some(Verdict::Single(entry))
    }

    /// Every byte in 0x20..=0x7E and none a backslash. Branch-free per
    /// chunk, so it vectorizes.
    fn printable_ascii(body: &[u8]) -> bool {
        body.chunks(4096).all(|chunk| {
            chunk.iter().fold(0u8, |bad, &b| {
                bad | u8::from(b.wrapping_sub(0x20) > 0x5e) | u8::from(b == b'\\')
            }) == 0
        })
    }

    /// The first `"` in `s`, sixteen bytes a step with SSE2 (every x86-64
    /// has it), inline: most strings here are short (keys, addresses, txids)
    /// and a call to memchr cost more than the search.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    fn find_quote(s: &[u8]) -> Option<usize> {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        };
        let mut at = 0;
        while at + 16 <= s.len() {
            // SAFETY: SSE2 is part of x86-64; the 16 bytes read are in `s`.
            let mask = unsafe {
                let chunk = _mm_loadu_si128(s.as_ptr().add(at).cast::<__m128i>());
                _mm_movemask_epi8(_mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'"' as i8)))
            };
            if mask != 0 {
                return Some(at + mask.trailing_zeros() as usize);
            }
            at += 16;
            if at == 128 {
                // A long one (a payload): memchr's wider search.
                return memchr::memchr(b'"', &s[at..]).map(|n| at + n);
            }
        }
        s[at..].iter().position(|&b| b == b'"').map(|n| at + n)
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn find_quote(s: &[u8]) -> Option<usize> {
        memchr::memchr(b'"', s)
    }

    struct Scan<'a> {
        b: &'a [u8],
        i: usize,
    }

    impl<'a> Scan<'a> {
        fn peek(&self) -> Option<u8> {
            self.b.get(self.i).copied()
        }

        fn next(&mut self) -> Option<u8> {
            let c = self.peek()?;
            self.i += 1;
            Some(c)
        }

        fn spaces(&mut self) {
            while self.peek() == Some(b' ') {
                self.i += 1;
            }
        }

        fn expect(&mut self, c: u8) -> Option<()> {
            (self.next()? == c).then_some(())
        }

        /// A string's contents (no escapes: the body has no backslash).
        fn string(&mut self) -> Option<&'a [u8]> {
            self.expect(b'"')?;
            let start = self.i;
            let len = find_quote(&self.b[start..])?;
            self.i = start + len + 1;
            Some(&self.b[start..start + len])
        }

        fn digits(&mut self) -> usize {
            let start = self.i;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            self.i - start
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, at most [`MAX_NUMBER`] long.
        fn number(&mut self) -> Option<&'a [u8]> {
            let start = self.i;
            if self.peek() == Some(b'-') {
                self.i += 1;
            }
            match self.peek()? {
                b'0' => self.i += 1,
                b'1'..=b'9' => {
                    self.digits();
                }
                _ => return None,
            }
            if self.peek() == Some(b'.') {
                self.i += 1;
                if self.digits() == 0 {
                    return None;
                }
            }
            if matches!(self.peek(), Some(b'e' | b'E')) || self.i - start > MAX_NUMBER {
                return None;
            }
            Some(&self.b[start..self.i])
        }

        fn literal(&mut self, word: &[u8]) -> Option<()> {
            let end = self.i.checked_add(word.len())?;
            (self.b.get(self.i..end)? == word).then(|| self.i = end)
        }

        /// A key and its colon.
        fn key(&mut self) -> Option<&'a [u8]> {
            let key = self.string()?;
            self.spaces();
            self.expect(b':')?;
            self.spaces();
            Some(key)
        }

        /// Skips one value inside `outer` arrays and objects, checking its
        /// syntax and depth.
        fn value(&mut self, outer: usize) -> Option<()> {
            // Bit k set: the container k levels up from the innermost open
            // one is an object. MAX_DEPTH < 128, so they all fit.
            let mut objects: u128 = 0;
            let mut open = 0usize;
            loop {
                self.spaces();
                match self.peek()? {
                    b'"' => {
                        self.string()?;
                    }
                    b'-' | b'0'..=b'9' => {
                        self.number()?;
                    }
                    b't' => self.literal(b"true")?,
                    b'f' => self.literal(b"false")?,
                    b'n' => self.literal(b"null")?,
                    c @ (b'[' | b'{') => {
                        self.i += 1;
                        open += 1;
                        if outer + open > MAX_DEPTH {
                            return None;
                        }
                        let object = c == b'{';
                        objects = (objects << 1) | u128::from(object);
                        self.spaces();
                        if self.peek()? == if object { b'}' } else { b']' } {
                            self.i += 1;
                            open -= 1;
                            objects >>= 1;
                        } else {
                            if object {
                                self.key()?;
                            }
                            continue;
                        }
                    }
                    _ => return None,
                }
                // After a value: close what ends here, up to the next value.
                loop {
                    if open == 0 {
                        return Some(());
                    }
                    self.spaces();
                    let object = objects & 1 == 1;
                    match self.next()? {
                        b',' => {
                            if object {
                                self.spaces();
                                self.key()?;
                            }
                            break;
                        }
                        b'}' if object => {}
                        b']' if !object => {}
                        _ => return None,
                    }
                    open -= 1;
                    objects >>= 1;
                }
            }
        }

        /// A member of the request object, the envelope ones with their kind.
        fn member(&mut self) -> Option<Kind> {
            Some(match self.peek()? {
                b'"' => Kind::Str(Some(std::str::from_utf8(self.string()?).ok()?.to_owned())),
                b'0'..=b'9' => {
                    // Only what serde_json reads as a u64; the rest goes the
                    // full way.
                    let n = self.number()?;
                    Kind::Unsigned(std::str::from_utf8(n).ok()?.parse().ok()?)
                }
                c => {
                    self.value(1)?;
                    match c {
                        b'[' => Kind::Array,
                        b'{' => Kind::Object,
                        b't' | b'f' => Kind::Bool,
                        b'n' => Kind::Null,
                        _ => return None,
                    }
                }
            })
        }

        /// The request object, at depth 1.
        fn request(&mut self) -> Option<Entry> {
            self.expect(b'{')?;
            let mut members = Members::default();
            self.spaces();
            if self.peek()? == b'}' {
                self.i += 1;
                return Some(members.entry());
            }
            loop {
                let key = self.key()?;
                let slot = match key {
                    b"jsonrpc" => Some(&mut members.jsonrpc),
                    b"method" => Some(&mut members.method),
                    b"id" => Some(&mut members.id),
                    b"params" => Some(&mut members.params),
                    _ => None,
                };
                match slot {
                    None => self.value(1)?,
                    Some(slot) => {
                        let kind = self.member()?;
                        if slot.replace(kind).is_some() && members.duplicate.is_none() {
                            members.duplicate = Some(std::str::from_utf8(key).ok()?.to_owned());
                        }
                    }
                }
                self.spaces();
                match self.next()? {
                    b',' => self.spaces(),
                    b'}' => return Some(members.entry()),
                    _ => return None,
                }
            }
        }
    }
}

/// A JSON-RPC error response object.
pub fn error_object(id: &Id, code: i32, message: &str) -> Value {
    serde_json::json!({
        "jsonrpc": "2.0",
        "error": {"code": code, "message": message},
        "id": id.to_json(),
    })
}

fn invalid_object(id: &Id, reason: &str) -> Value {
    error_object(id, INVALID_REQUEST, &format!("Invalid request: {reason}"))
}

fn json_reply(body: String) -> HttpResponse {
    jsonrpsee_response::ok_response(body)
}

fn no_content() -> HttpResponse {
    let mut response = HttpResponse::new(HttpBody::empty());
    *response.status_mut() = http::StatusCode::NO_CONTENT;
    response
}

/// Tower layer putting [`Envelope`] in front of jsonrpsee's HTTP service.
#[derive(Clone, Debug)]
pub struct EnvelopeLayer {
    /// Largest body read, as jsonrpsee's `max_request_body_size`.
    pub max_body: u32,
}

impl<S> tower::Layer<S> for EnvelopeLayer {
    type Service = Envelope<S>;
    fn layer(&self, inner: S) -> Envelope<S> {
        Envelope {
            inner,
            max_body: self.max_body,
        }
    }
}

/// See the module docs.
#[derive(Clone, Debug)]
pub struct Envelope<S> {
    inner: S,
    max_body: u32,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

impl<S, B> tower::Service<HttpRequest<B>> for Envelope<S>
where
    S: tower::Service<HttpRequest<HttpBody>, Response = HttpResponse, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest<B>) -> BoxFuture {
        // The clone goes on serving; the instance polled ready takes this call.
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let max_body = self.max_body;
        let declared = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        // What jsonrpsee refuses without reading (other verbs, other content
        // types, WebSocket upgrades, a declared oversize) it answers itself.
        if req.method() != http::Method::POST
            || !jsonrpsee::server::http::content_type_is_json(&req)
            || declared.is_some_and(|n| n > u64::from(max_body))
        {
            return Box::pin(inner.call(req.map(HttpBody::new)));
        }
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let bytes = match Limited::new(body, max_body as usize).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    return Ok(jsonrpsee_response::too_large(max_body));
                }
                Err(e) => {
                    tracing::debug!(error = %e, "reading a JSON-RPC request body failed");
                    return Ok(jsonrpsee_response::internal_error());
                }
            };
            let forward = |inner: &mut S, body: Bytes| {
                let mut parts = parts.clone();
                // A batch may go on without its bad entries: say its new length.
                parts.headers.insert(
                    http::header::CONTENT_LENGTH,
                    http::HeaderValue::from(body.len()),
                );
                inner.call(HttpRequest::from_parts(
                    parts,
                    HttpBody::new(Full::new(body)),
                ))
            };
            match classify(&bytes) {
                Verdict::ParseError(e) => Ok(json_reply(
                    error_object(&Id::Null, PARSE_ERROR, &format!("Parse error: {e}")).to_string(),
                )),
                Verdict::NotARequest => Ok(json_reply(
                    invalid_object(&Id::Null, "expected a request object or a batch array")
                        .to_string(),
                )),
                Verdict::Single(Entry::Invalid { id, reason }) => {
                    Ok(json_reply(invalid_object(&id, &reason).to_string()))
                }
                Verdict::Single(Entry::Call) => forward(&mut inner, bytes).await,
                Verdict::Single(Entry::Notification) => {
                    forward(&mut inner, bytes).await?;
                    Ok(no_content())
                }
                Verdict::Batch(entries) => {
                    serve_batch(entries, bytes, |b| forward(&mut inner, b)).await
                }
            }
        })
    }
}

/// Serves a batch: its good requests go to jsonrpsee (as a smaller batch if
/// some are bad), its bad ones get their errors here, in one reply.
async fn serve_batch<F, Fut>(
    entries: Vec<Entry>,
    bytes: Bytes,
    forward: F,
) -> Result<HttpResponse, BoxError>
where
    F: FnOnce(Bytes) -> Fut,
    Fut: Future<Output = Result<HttpResponse, BoxError>>,
{
    if entries.is_empty() {
        return Ok(json_reply(
            invalid_object(&Id::Null, "empty batch").to_string(),
        ));
    }
    if entries.len() > MAX_BATCH {
        let message = format!(
            "batch of {} requests is over the limit of {MAX_BATCH}",
            entries.len()
        );
        let code = ain_rs::ErrorCode::ResourceExhausted.jsonrpc_code();
        return Ok(json_reply(
            error_object(&Id::Null, code, &message).to_string(),
        ));
    }
    let errors: Vec<String> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Invalid { id, reason } => Some(invalid_object(id, reason).to_string()),
            _ => None,
        })
        .collect();
    let calls = entries.iter().filter(|e| **e == Entry::Call).count();
    let valid = entries.len() - errors.len();
    if errors.is_empty() {
        let response = forward(bytes).await?;
        return Ok(if calls == 0 { no_content() } else { response });
    }
    if valid == 0 {
        return Ok(json_reply(format!("[{}]", errors.join(","))));
    }
    // Only the good entries go on, as a batch of their own.
    let raw: Vec<&RawValue> = serde_json::from_slice(&bytes)?;
    let kept: Vec<&str> = raw
        .iter()
        .zip(&entries)
        .filter(|(_, e)| !matches!(e, Entry::Invalid { .. }))
        .map(|(r, _)| r.get())
        .collect();
    let response = forward(Bytes::from(format!("[{}]", kept.join(",")))).await?;
    let mut replies: Vec<String> = Vec::new();
    if calls > 0 {
        let body = response.into_body().collect().await?.to_bytes();
        let text = std::str::from_utf8(&body)?.trim();
        match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(items) => replies.extend(items.iter().map(|r| r.get().to_string())),
            // One error for the whole forwarded batch (its reply too large).
            Err(_) => replies.push(text.to_string()),
        }
    }
    replies.extend(errors);
    Ok(json_reply(format!("[{}]", replies.join(","))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(body: &str) -> Entry {
        match classify(body.as_bytes()) {
            Verdict::Single(e) => e,
            other => panic!("{body}: {other:?}"),
        }
    }

    fn reason(body: &str) -> (Id, String) {
        match single(body) {
            Entry::Invalid { id, reason } => (id, reason),
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn good_calls_and_notifications() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":"x","method":"m","params":[]}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"m","params":{}}"#,
            r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"m","params":null}"#,
            r#" {"method":"m","extra":[1,{"a":2}],"jsonrpc":"2.0","id":0} "#,
        ] {
            assert_eq!(single(body), Entry::Call, "{body}");
        }
        assert_eq!(
            single(r#"{"jsonrpc":"2.0","method":"m","params":[1]}"#),
            Entry::Notification
        );
    }

    #[test]
    fn ids_jsonrpsee_cannot_echo_are_invalid() {
        for id in [
            "{}",
            "[]",
            "[1]",
            "1.5",
            "1.0",
            "1e2",
            "-1",
            "18446744073709551616",
            "true",
        ] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"m"}}"#);
            let (got, why) = reason(&body);
            assert_eq!(got, Id::Null, "{body}");
            assert!(why.starts_with("\"id\" must be a string"), "{body}: {why}");
        }
    }

    #[test]
    fn a_bad_envelope_names_the_member_and_keeps_a_good_id() {
        let cases = [
            (
                r#"{"jsonrpc":"3.0","id":7,"method":"m"}"#,
                "\"jsonrpc\" must be",
            ),
            (
                r#"{"jsonrpc":2.0,"id":7,"method":"m"}"#,
                "\"jsonrpc\" must be",
            ),
            (r#"{"id":7,"method":"m"}"#, "\"jsonrpc\" must be"),
            (r#"{"jsonrpc":"2.0","id":7}"#, "\"method\" is missing"),
            (
                r#"{"jsonrpc":"2.0","id":7,"method":1}"#,
                "\"method\" must be a string",
            ),
            (
                r#"{"jsonrpc":"2.0","id":7,"method":"m","params":5}"#,
                "\"params\" must be",
            ),
            (
                r#"{"jsonrpc":"2.0","id":7,"method":"m","params":"x"}"#,
                "\"params\" must be",
            ),
            (
                r#"{"jsonrpc":"2.0","id":7,"method":"m","method":"n"}"#,
                "appears more than once",
            ),
        ];
        for (body, expected) in cases {
            let (id, why) = reason(body);
            assert_eq!(id, Id::Number(7), "{body}");
            assert!(why.contains(expected), "{body}: {why}");
        }
    }

    #[test]
    fn what_is_not_json_within_limits_is_a_parse_error() {
        let deep = format!("{}{}", "[".repeat(40_000), "]".repeat(40_000));
        let deep_params = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{}{}}}"#,
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "EOF"),
            (b"{".to_vec(), "EOF"),
            (
                br#"{"jsonrpc":"2.0","id":1,"method":"m"} x"#.to_vec(),
                "trailing",
            ),
            (
                br#"{"jsonrpc":"2.0","id":1,"method":"m","params":[1e400]}"#.to_vec(),
                "out of range",
            ),
            (
                format!("[{}]", "9".repeat(400)).into_bytes(),
                "out of range",
            ),
            (
                br#"{"jsonrpc":"2.0","id":1,"method":"m","params":["\x"]}"#.to_vec(),
                "escape",
            ),
            (
                br#"{"jsonrpc":"2.0","id":1,"method":"m","params":["\ud800"]}"#.to_vec(),
                "hex escape",
            ),
            (
                b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\xff\"}".to_vec(),
                "unicode",
            ),
            (deep.into_bytes(), "nested deeper than 100"),
            (deep_params.into_bytes(), "nested deeper than 100"),
        ];
        for (body, expected) in cases {
            match classify(&body) {
                Verdict::ParseError(e) => assert!(
                    e.contains(expected),
                    "{}: {e}",
                    String::from_utf8_lossy(&body[..body.len().min(80)])
                ),
                other => panic!("{other:?}"),
            }
        }
        // One level less is fine.
        let ok = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{}{}}}"#,
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert_eq!(single(&ok), Entry::Call);
    }

    /// Bodies the plain scanner takes, and edges it must pass on.
    fn plain_seeds() -> Vec<Vec<u8>> {
        let nest = |n: usize| {
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":{}{}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        let nest_objects = |n: usize| {
            format!(
                r#"{{"x":{}1{},"jsonrpc":"2.0","id":1,"method":"m"}}"#,
                "{\"a\":".repeat(n),
                "}".repeat(n)
            )
        };
        let mut out: Vec<String> = vec![
            r#"{"jsonrpc":"2.0","id":1,"method":"m"}"#.into(),
            r#"{"jsonrpc":"2.0","id":"x","method":"m","params":[]}"#.into(),
            r#"{"jsonrpc":"2.0","id":null,"method":"m","params":{}}"#.into(),
            r#"{"jsonrpc":"2.0","id":18446744073709551615,"method":"m","params":null}"#.into(),
            r#"{"jsonrpc":"2.0","id":18446744073709551616,"method":"m"}"#.into(),
            r#"{"jsonrpc":"2.0","id":-0,"method":"m"}"#.into(),
            r#"{"jsonrpc":"2.0","id":-1,"method":"m"}"#.into(),
            r#"{"jsonrpc":"2.0","id":0.5,"method":"m"}"#.into(),
            r#"{"jsonrpc":"2.0","id":007,"method":"m"}"#.into(),
            r#" { "method" : "m" , "extra" : [ 1 , { "a" : 2 } , true , false , null , -3.25 ] , "jsonrpc" : "2.0" , "id" : 0 } "#.into(),
            r#"{"jsonrpc":"2.0","method":"m","params":[1]}"#.into(),
            r#"{"jsonrpc":"2.0","method":"m","params":[1e5]}"#.into(),
            r#"{"jsonrpc":"2.0","id":7,"method":"m","method":"n","id":8}"#.into(),
            r#"{"jsonrpc":"2.0","id":7,"method":"m","params":"x"}"#.into(),
            r#"{"jsonrpc":"2.0","id":7,"method":"m","params":true}"#.into(),
            r#"{"jsonrpc":"3.0","id":7,"method":"m"}"#.into(),
            r#"{"jsonrpc":"2.0","id":[],"method":"m"}"#.into(),
            r#"{"jsonrpc":"2.0","id":{"a":[]},"method":{}}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"m","params":[{"txs":[{"kind":1,"from":"dfrt19afet3nqxd0frqa3f7ux0zaayjav8xp4femlxh","amount":1,"nativeTxid":"05000000000000000000000000000000000000000000000000000000000000000500000000000000000000000000000000000000000000000000000000000000"}],"context":{"height":5,"time":5}}]}"#.into(),
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":["{}"]}}"#, "ab".repeat(5000)),
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":[{}]}}"#, "9".repeat(300)),
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":[-{}.5]}}"#, "9".repeat(400)),
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"m","params":[{}]}}"#, "9".repeat(400)),
            r#"{}"#.into(),
            r#"{"a":1,}"#.into(),
            r#"{"a":[1,]}"#.into(),
            r#"{"a" 1}"#.into(),
            r#"{"a":tru}"#.into(),
            r#"{"a":-}"#.into(),
            r#"{"a":1.}"#.into(),
            r#"{"a":"x"#.into(),
            "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"}]".into(),
            nest(MAX_DEPTH - 1),
            nest(MAX_DEPTH),
            nest_objects(MAX_DEPTH - 1),
            nest_objects(MAX_DEPTH),
        ];
        out.push("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"}\n".into());
        out.into_iter().map(String::into_bytes).collect()
    }

    #[test]
    fn the_plain_scanner_agrees_with_serde_json() {
        let seeds = plain_seeds();
        let mut bodies = seeds.clone();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as usize
        };
        let alphabet = b" \"\\{}[]:,-.0123456789eEtrufalsnx\n\t\x01\x7f\xff";
        for seed in &seeds {
            for _ in 0..3000 {
                let mut b = seed.clone();
                for _ in 0..1 + next() % 3 {
                    let c = alphabet[next() % alphabet.len()];
                    match next() % 4 {
                        0 if !b.is_empty() => {
                            let i = next() % b.len();
                            b[i] = c;
                        }
                        1 => {
                            let i = next() % (b.len() + 1);
                            b.insert(i, c);
                        }
                        2 if !b.is_empty() => {
                            b.remove(next() % b.len());
                        }
                        _ => b.truncate(next() % (b.len() + 1)),
                    }
                }
                bodies.push(b);
            }
        }
        let mut taken = 0;
        for b in &bodies {
            if let Some(fast) = plain::classify(b) {
                taken += 1;
                assert_eq!(fast, classify_full(b), "{}", String::from_utf8_lossy(b));
            }
        }
        // The scanner takes the plain seeds and a good share of the rest.
        assert!(taken > bodies.len() / 20, "{taken} of {}", bodies.len());
        for (body, plain) in [
            (&seeds[0], true),
            (&seeds[18], true),
            (&seeds[19], true),
            (&seeds[20], true),
            (&seeds[21], false),
            (&seeds[11], false),
            (&seeds[5], false),
        ] {
            assert_eq!(
                plain::classify(body).is_some(),
                plain,
                "{}",
                String::from_utf8_lossy(&body[..body.len().min(80)])
            );
        }
    }

    #[test]
    fn batches_are_classified_entry_by_entry() {
        assert_eq!(classify(b"[]"), Verdict::Batch(vec![]));
        assert_eq!(classify(b"5"), Verdict::NotARequest);
        assert_eq!(classify(b"\"x\""), Verdict::NotARequest);
        let body = r#"[{"jsonrpc":"2.0","id":1,"method":"m"},1,[],{"jsonrpc":"2.0","method":"n"},{"jsonrpc":"2.0","id":{},"method":"m"}]"#;
        let Verdict::Batch(entries) = classify(body.as_bytes()) else {
            panic!("not a batch");
        };
        assert_eq!(entries[0], Entry::Call);
        assert_eq!(entries[1], not_an_object());
        assert_eq!(entries[2], not_an_object());
        assert_eq!(entries[3], Entry::Notification);
        assert!(matches!(&entries[4], Entry::Invalid { id: Id::Null, .. }));
    }
}
