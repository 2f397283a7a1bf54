//! A validating pull reader for JSON text, for the adapters whose payloads are mostly parts
//! they do not keep (Typeform's form schema, Tally's option lists).
//!
//! The adapter walks the body with [`Reader::object`], [`Reader::key`], [`Reader::array`] and
//! [`Reader::item`], reads what it keeps as borrowed strings ([`Reader::text`]) or values
//! ([`Reader::value`]), and skips the rest ([`Reader::skip`]) without building anything.
//!
//! **It accepts exactly the texts `serde_json::from_str::<Value>` accepts**, so a body that
//! was rejected before is still rejected: RFC 8259 grammar, whitespace of space, tab, CR and
//! LF only, no control characters in strings, only the JSON escapes, `\u` surrogates in pairs,
//! numbers whose value is finite, and at most 127 nested arrays and objects (serde_json's
//! recursion limit). Skipped parts get every check too. The text is a `&str`, so UTF-8 was
//! checked by the caller. Numbers whose range could be in doubt (an exponent, or over 300
//! bytes) are handed to serde_json itself, and values read with [`Reader::value`] equal the
//! `Value`s serde_json builds. The unit tests compare both on generated texts, and the
//! `source_typeform` and `source_tally` fuzz targets check that a body is refused exactly when
//! serde_json refuses it.
//!
//! Why not serde_json's own visitors (as before): going through serde's `Deserialize`
//! machinery cost about a quarter more instructions for the same Typeform and Tally bodies
//! (docs/benchmarks.md, fourth round), and normalizing a lead has a 10 µs budget.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

/// The text is not valid JSON (where or why does not matter to the adapters: every such body
/// gets the same 4xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

/// serde_json's recursion limit: its 128th nested array or object is an error.
const MAX_DEPTH: u32 = 127;

/// Bytes a string scan stops at: `"`, `\` and control characters (which are invalid).
const STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Reads one JSON text from the front.
pub(crate) struct Reader<'a> {
    text: &'a str,
    pos: usize,
    /// Arrays and objects open around the position.
    depth: u32,
    /// Bit `d` is set when the container at depth `d` (1-based) is an object.
    objects: u128,
    /// Nothing has been read yet in the innermost open container (no comma expected).
    first: bool,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        Reader {
            text,
            pos: 0,
            depth: 0,
            objects: 0,
            first: false,
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The next byte after whitespace (not consumed).
    #[inline]
    fn peek(&mut self) -> Result<u8, Invalid> {
        match self.bytes().get(self.pos) {
            // Most values and punctuation follow without whitespace.
            Some(&c) if c > b' ' => Ok(c),
            _ => self.peek_after_whitespace(),
        }
    }

    /// [`Reader::peek`] over whitespace: a pretty-printed body's indentation (a newline and a
    /// run of spaces) is skipped eight bytes at a time.
    fn peek_after_whitespace(&mut self) -> Result<u8, Invalid> {
        let b = self.bytes();
        loop {
            match b.get(self.pos) {
                Some(b' ' | b'\n' | b'\t' | b'\r') => {
                    self.pos += 1;
                    self.pos += count_spaces(b.get(self.pos..).unwrap_or_default());
                }
                Some(&c) => return Ok(c),
                None => return Err(Invalid),
            }
        }
    }

    /// Consumes `c` after whitespace.
    fn expect(&mut self, c: u8) -> Result<(), Invalid> {
        if self.peek()? == c {
            self.pos += 1;
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    fn open(&mut self, object: bool) -> Result<(), Invalid> {
        if self.depth + 1 > MAX_DEPTH {
            return Err(Invalid);
        }
        self.depth += 1;
        if object {
            self.objects |= 1 << self.depth;
        } else {
            self.objects &= !(1 << self.depth);
        }
        self.pos += 1;
        self.first = true;
        Ok(())
    }

    fn in_object(&self) -> bool {
        self.objects & (1 << self.depth) != 0
    }

    fn close(&mut self) {
        self.pos += 1;
        self.depth -= 1;
        self.first = false;
    }

    /// Enters the next value if it is an object (then read it with [`Reader::key`]); any other
    /// value is skipped (`false`).
    pub(crate) fn object(&mut self) -> Result<bool, Invalid> {
        if self.peek()? == b'{' {
            self.open(true)?;
            Ok(true)
        } else {
            self.skip().map(|()| false)
        }
    }

    /// Enters the next value if it is an array (then read it with [`Reader::item`]); any other
    /// value is skipped (`false`).
    pub(crate) fn array(&mut self) -> Result<bool, Invalid> {
        if self.peek()? == b'[' {
            self.open(false)?;
            Ok(true)
        } else {
            self.skip().map(|()| false)
        }
    }

    /// The next key of the object entered last, or `None` once its closing brace is read. The
    /// key's value must be read (or skipped) before the next call.
    pub(crate) fn key(&mut self) -> Result<Option<Cow<'a, str>>, Invalid> {
        debug_assert!(self.in_object());
        let mut c = self.peek()?;
        if c == b'}' {
            self.close();
            return Ok(None);
        }
        if !self.first {
            if c != b',' {
                return Err(Invalid);
            }
            self.pos += 1;
            c = self.peek()?;
        }
        self.first = false;
        if c != b'"' {
            return Err(Invalid);
        }
        let key = self.string()?;
        self.colon()?;
        Ok(Some(key))
    }

    /// Skips a key and its colon (in a skipped object).
    fn skip_key(&mut self) -> Result<(), Invalid> {
        if self.peek()? != b'"' {
            return Err(Invalid);
        }
        self.skip_string()?;
        self.colon()
    }

    /// The colon after a key (usually right after it).
    #[inline]
    fn colon(&mut self) -> Result<(), Invalid> {
        if self.bytes().get(self.pos) == Some(&b':') {
            self.pos += 1;
            Ok(())
        } else {
            self.expect(b':')
        }
    }

    /// Whether another item follows in the array entered last (`false` once its closing
    /// bracket is read). The item must be read (or skipped) before the next call.
    pub(crate) fn item(&mut self) -> Result<bool, Invalid> {
        debug_assert!(!self.in_object());
        match self.peek()? {
            b']' => {
                self.close();
                return Ok(false);
            }
            b',' if !self.first => self.pos += 1,
            _ if self.first => {}
            _ => return Err(Invalid),
        }
        self.first = false;
        Ok(true)
    }

    /// The next value if it is a string (borrowed when it has no escapes); any other value is
    /// skipped (`None`).
    pub(crate) fn text(&mut self) -> Result<Option<Cow<'a, str>>, Invalid> {
        if self.peek()? == b'"' {
            self.string().map(Some)
        } else {
            self.skip().map(|()| None)
        }
    }

    /// Whether the next value is a string.
    pub(crate) fn at_string(&mut self) -> Result<bool, Invalid> {
        Ok(self.peek()? == b'"')
    }

    /// Skips the next value, checking it as closely as reading it would.
    pub(crate) fn skip(&mut self) -> Result<(), Invalid> {
        let base = self.depth;
        loop {
            // A value.
            match self.peek()? {
                b'{' => {
                    self.open(true)?;
                    if self.peek()? == b'}' {
                        self.close();
                    } else {
                        self.skip_key()?;
                        continue;
                    }
                }
                b'[' => {
                    self.open(false)?;
                    if self.peek()? == b']' {
                        self.close();
                    } else {
                        continue;
                    }
                }
                _ => self.scalar()?,
            }
            // After a value: close what ends here, or go on to the next item or entry.
            loop {
                if self.depth == base {
                    return Ok(());
                }
                match self.peek()? {
                    b',' => {
                        self.pos += 1;
                        if self.in_object() {
                            self.skip_key()?;
                        }
                        break;
                    }
                    b'}' if self.in_object() => self.close(),
                    b']' if !self.in_object() => self.close(),
                    _ => return Err(Invalid),
                }
            }
        }
    }

    /// Skips a string, number or literal.
    fn scalar(&mut self) -> Result<(), Invalid> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => Err(Invalid),
        }
    }

    fn literal(&mut self, word: &str) -> Result<(), Invalid> {
        match self.bytes().get(self.pos..self.pos + word.len()) {
            Some(w) if w == word.as_bytes() => {
                self.pos += word.len();
                Ok(())
            }
            _ => Err(Invalid),
        }
    }

    /// Reads the next value as serde_json would build it.
    pub(crate) fn value(&mut self) -> Result<Value, Invalid> {
        match self.peek()? {
            b'{' => {
                self.open(true)?;
                let mut map = Map::new();
                while let Some(key) = self.key()? {
                    let value = self.value()?;
                    map.insert(key.into_owned(), value);
                }
                Ok(Value::Object(map))
            }
            b'[' => {
                self.open(false)?;
                let mut items = Vec::new();
                while self.item()? {
                    items.push(self.value()?);
                }
                Ok(Value::Array(items))
            }
            b'"' => self.string().map(|s| Value::String(s.into_owned())),
            b'-' | b'0'..=b'9' => {
                let token = self.number()?;
                number_value(token)
            }
            b't' => self.literal("true").map(|()| Value::Bool(true)),
            b'f' => self.literal("false").map(|()| Value::Bool(false)),
            b'n' => self.literal("null").map(|()| Value::Null),
            _ => Err(Invalid),
        }
    }

    /// Checks that only whitespace is left (serde_json's `from_str` rejects trailing
    /// characters).
    pub(crate) fn finish(mut self) -> Result<(), Invalid> {
        match self.peek() {
            Err(Invalid) => Ok(()),
            Ok(_) => Err(Invalid),
        }
    }

    /// A string at the position (its opening quote), borrowed when it has no escapes.
    #[inline(always)]
    fn string(&mut self) -> Result<Cow<'a, str>, Invalid> {
        let b = self.bytes();
        let start = self.pos + 1;
        let i = scan_string(b, start);
        match b.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                // Both ends are ASCII quotes, so both are character boundaries.
                self.text.get(start..i).map(Cow::Borrowed).ok_or(Invalid)
            }
            Some(b'\\') => self.escaped_string(start, i).map(Cow::Owned),
            _ => Err(Invalid),
        }
    }

    /// Skips a string at the position (its opening quote), checking it as [`Reader::string`]
    /// would, without taking its text.
    #[inline(always)]
    fn skip_string(&mut self) -> Result<(), Invalid> {
        let b = self.bytes();
        let i = scan_string(b, self.pos + 1);
        match b.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                Ok(())
            }
            Some(b'\\') => self.escaped_string(self.pos + 1, i).map(drop),
            _ => Err(Invalid),
        }
    }

    /// The rest of a string from its first escape at `i` (`start`: its first byte).
    #[cold]
    fn escaped_string(&mut self, start: usize, mut i: usize) -> Result<String, Invalid> {
        let b = self.bytes();
        let mut out = String::with_capacity(i - start + 16);
        out.push_str(self.text.get(start..i).ok_or(Invalid)?);
        loop {
            // At a stop byte.
            match b.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let (c, len) = escape(&b[i + 1..])?;
                    out.push(c);
                    i += 1 + len;
                }
                _ => return Err(Invalid),
            }
            let run = i;
            i = scan_string(b, i);
            out.push_str(self.text.get(run..i).ok_or(Invalid)?);
        }
    }

    /// A number at the position: its text, checked against the JSON grammar and, where it
    /// could overflow, by serde_json itself.
    fn number(&mut self) -> Result<&'a str, Invalid> {
        let b = self.bytes();
        let start = self.pos;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => return Err(Invalid),
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return Err(Invalid);
            }
        }
        let mut exponent = false;
        if let Some(b'e' | b'E') = b.get(i) {
            exponent = true;
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            if !digits(&mut i) {
                return Err(Invalid);
            }
        }
        self.pos = i;
        let token = self.text.get(start..i).ok_or(Invalid)?;
        // Without an exponent, a number under 10^300 is finite whatever its digits; otherwise
        // whether serde_json calls it out of range depends on its own arithmetic.
        if exponent || token.len() > 300 {
            serde_json::from_str::<Value>(token).map_err(|_| Invalid)?;
        }
        Ok(token)
    }
}

const SPACES: u64 = u64::from_ne_bytes([b' '; 8]);
const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// Bytes of `x` (little-endian) that are zero, as their high bits; the lowest flagged byte is
/// the first zero byte (a borrow only runs upwards, past it).
const fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The index of the first byte of `b` that `stops` flags, or its length: eight bytes at a
/// time while there are eight (`flags` gives, for a word read little-endian, a value whose
/// lowest set bit lies in the first flagged byte, or 0), then byte by byte.
#[inline(always)]
fn first_stop(b: &[u8], flags: impl Fn(u64) -> u64, stops: impl Fn(u8) -> bool) -> usize {
    let mut chunks = b.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let found = flags(u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])));
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let rest = chunks.remainder();
    at + rest.iter().position(|&c| stops(c)).unwrap_or(rest.len())
}

/// The index of the first `"`, `\\` or control character at or after `i` (or the length).
#[inline]
fn scan_string(b: &[u8], i: usize) -> usize {
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    const CONTROL: u64 = u64::from_ne_bytes([0x20; 8]);
    // Bytes under 0x20 borrow in `x - 0x20..`; bytes of 0x80 and up (UTF-8) are not flagged
    // (`!x` clears their high bit). As with `zero_bytes`, the lowest flag is exact.
    let flags = |x: u64| {
        zero_bytes(x ^ QUOTES)
            | zero_bytes(x ^ BACKSLASHES)
            | (x.wrapping_sub(CONTROL) & !x & HIGHS)
    };
    i + first_stop(b.get(i..).unwrap_or_default(), flags, |c| {
        STRING_STOP[usize::from(c)]
    })
}

/// The number of spaces `b` starts with.
#[inline]
fn count_spaces(b: &[u8]) -> usize {
    // Zero bytes are spaces; the lowest non-zero byte is the first other byte.
    first_stop(b, |x| x ^ SPACES, |c| c != b' ')
}

/// The `Value` serde_json builds for a number's text (already checked).
fn number_value(token: &str) -> Result<Value, Invalid> {
    // Small non-negative integers, the usual case, as serde_json reads them (`u64`).
    if token.len() <= 19
        && let Ok(n) = token.parse::<u64>()
    {
        return Ok(Value::Number(Number::from(n)));
    }
    serde_json::from_str::<Value>(token).map_err(|_| Invalid)
}

/// The character of an escape (`s`: after its backslash) and the bytes it took.
fn escape(s: &[u8]) -> Result<(char, usize), Invalid> {
    let c = match s.first() {
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => return unicode_escape(s),
        _ => return Err(Invalid),
    };
    Ok((c, 1))
}

/// A `\u` escape (`s`: from its `u`), a surrogate pair taking two, as serde_json reads them
/// into a string: a lone surrogate is an error.
fn unicode_escape(s: &[u8]) -> Result<(char, usize), Invalid> {
    let n = hex4(s.get(1..5))?;
    match n {
        0xDC00..=0xDFFF => Err(Invalid),
        0xD800..=0xDBFF => {
            if s.get(5..7) != Some(b"\\u") {
                return Err(Invalid);
            }
            let low = hex4(s.get(7..11))?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return Err(Invalid);
            }
            let c = 0x10000 + ((u32::from(n) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
            char::from_u32(c).map(|c| (c, 11)).ok_or(Invalid)
        }
        n => char::from_u32(u32::from(n)).map(|c| (c, 5)).ok_or(Invalid),
    }
}

fn hex4(digits: Option<&[u8]>) -> Result<u16, Invalid> {
    let digits = digits.ok_or(Invalid)?;
    let mut n = 0u16;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(Invalid),
        };
        n = n << 4 | u16::from(v);
    }
    Ok(n)
}

/// Reads a whole text as one value (what `serde_json::from_str::<Value>` does).
#[cfg(test)]
pub(crate) fn value_of(text: &str) -> Result<Value, Invalid> {
    let mut r = Reader::new(text);
    let v = r.value()?;
    r.finish().map(|()| v)
}

/// Checks a whole text by skipping it.
#[cfg(test)]
#[inline(never)]
pub(crate) fn skip_all(text: &str) -> Result<(), Invalid> {
    let mut r = Reader::new(text);
    r.skip()?;
    r.finish()
}

#[cfg(test)]
mod tests;
