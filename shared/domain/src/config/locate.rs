//! Finds where a config path (`rules[2].pool`) is written in the source text, so that problems
//! found after parsing (a rule naming a missing pool) still point at a line.

use std::fmt;

use toml::de::{DeTable, DeValue};

/// One step of a path into the config document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A table key / object member.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A path into the config document, such as `rules[2].when.all[0].field`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Seg>);

impl Path {
    /// The path with `key` appended.
    pub fn key(&self, key: &str) -> Path {
        let mut p = self.0.clone();
        p.push(Seg::Key(key.to_owned()));
        Path(p)
    }

    /// The path with `index` appended.
    pub fn index(&self, index: usize) -> Path {
        let mut p = self.0.clone();
        p.push(Seg::Index(index));
        Path(p)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before.get(nl + 1..).map_or(0, |s| s.chars().count())
    }) + 1;
    (line, col)
}

/// Byte offset where the deepest existing prefix of `path` is written in a TOML document.
pub fn locate_toml(src: &str, path: &Path) -> Option<usize> {
    let root = DeTable::parse(src).ok()?;
    let mut best = None;
    let table = root.get_ref();
    let mut value: Option<&toml::Spanned<DeValue<'_>>> = None;
    for seg in &path.0 {
        match seg {
            Seg::Key(k) => {
                let current = match value {
                    None => table,
                    Some(v) => match v.get_ref() {
                        DeValue::Table(t) => t,
                        _ => return best,
                    },
                };
                let Some((key, v)) = current.iter().find(|(key, _)| key.get_ref().as_ref() == k)
                else {
                    return best;
                };
                // Point at the key for scalars (that is where a reader looks), at the value for
                // tables.
                best = Some(key.span().start);
                value = Some(v);
            }
            Seg::Index(n) => {
                let Some(DeValue::Array(items)) = value.map(|v| v.get_ref()) else {
                    return best;
                };
                let item = items.get(*n)?;
                best = Some(item.span().start);
                value = Some(item);
            }
        }
    }
    best
}

/// Byte offset where the deepest existing prefix of `path` is written in a JSON document.
pub fn locate_json(src: &str, path: &Path) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut pos = skip_ws(bytes, 0);
    let mut best = None;
    for seg in &path.0 {
        match (seg, bytes.get(pos)) {
            (Seg::Key(k), Some(b'{')) => {
                pos = skip_ws(bytes, pos + 1);
                loop {
                    if bytes.get(pos) != Some(&b'"') {
                        return best;
                    }
                    let key_start = pos;
                    let key_end = skip_string(bytes, pos)?;
                    let key: String = serde_json::from_str(src.get(key_start..key_end)?).ok()?;
                    pos = skip_ws(bytes, key_end);
                    if bytes.get(pos) != Some(&b':') {
                        return best;
                    }
                    pos = skip_ws(bytes, pos + 1);
                    if &key == k {
                        best = Some(key_start);
                        break;
                    }
                    pos = skip_ws(bytes, skip_value(bytes, pos)?);
                    match bytes.get(pos) {
                        Some(b',') => pos = skip_ws(bytes, pos + 1),
                        _ => return best,
                    }
                }
            }
            (Seg::Index(n), Some(b'[')) => {
                pos = skip_ws(bytes, pos + 1);
                for _ in 0..*n {
                    pos = skip_ws(bytes, skip_value(bytes, pos)?);
                    match bytes.get(pos) {
                        Some(b',') => pos = skip_ws(bytes, pos + 1),
                        _ => return best,
                    }
                }
                if bytes.get(pos) == Some(&b']') {
                    return best;
                }
                best = Some(pos);
            }
            _ => return best,
        }
    }
    best
}

fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while matches!(b.get(pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        pos += 1;
    }
    pos
}

/// Position just after the string starting at `pos` (which holds the opening quote).
fn skip_string(b: &[u8], pos: usize) -> Option<usize> {
    let mut i = pos + 1;
    loop {
        match b.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// Position just after the JSON value starting at `pos`.
fn skip_value(b: &[u8], pos: usize) -> Option<usize> {
    match b.get(pos)? {
        b'"' => skip_string(b, pos),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = pos;
            loop {
                match b.get(i)? {
                    b'"' => {
                        i = skip_string(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = pos;
            while let Some(c) = b.get(i) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                i += 1;
            }
            Some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(segs: &[Seg]) -> Path {
        Path(segs.to_vec())
    }

    #[test]
    fn toml_paths_resolve_to_lines() {
        let src = "[[pools]]\nid = \"a\"\n\n[[pools]]\nid = \"b\"\nmembers = [\"x\", \"y\"]\n";
        let path = p(&[
            Seg::Key("pools".into()),
            Seg::Index(1),
            Seg::Key("members".into()),
        ]);
        let off = locate_toml(src, &path).expect("found");
        assert_eq!(line_col(src, off).0, 6);
        let member = path.index(1);
        let off = locate_toml(src, &member).expect("found");
        assert_eq!(line_col(src, off), (6, 17));
    }

    #[test]
    fn json_paths_resolve_to_lines() {
        let src = "{\n \"a\": {\"x\": [1, {\"q\": \"]\"}]},\n \"rules\": [\n  {\"name\": \"r\"},\n  {\"name\": \"s\", \"pool\": \"p\"}\n ]\n}";
        let path = p(&[
            Seg::Key("rules".into()),
            Seg::Index(1),
            Seg::Key("pool".into()),
        ]);
        let off = locate_json(src, &path).expect("found");
        assert_eq!(line_col(src, off).0, 5);
        assert_eq!(path.to_string(), "rules[1].pool");
    }

    #[test]
    fn missing_path_falls_back_to_deepest_prefix() {
        let src = "[settings]\ntimezone = \"UTC\"\n";
        let path = p(&[Seg::Key("settings".into()), Seg::Key("nope".into())]);
        assert_eq!(locate_toml(src, &path), Some(1));
        assert!(locate_json("{\"settings\": {}}", &path).is_some());
    }
}
