//! A pool's rotation as stored: every member's turn, in rep-id order, in one contiguous array.
//!
//! A round-robin pick walks the pool's members and the rotation side by side (both sorted by
//! rep id) to find who is next in line. A `BTreeMap` made that walk cost about 80 instructions a
//! member (node navigation, and a read of each key's heap string to compare it); here each
//! entry carries its id packed into words ([`PackedId`]), so a step compares integers in an
//! array. Serialized exactly as the map was: a JSON object keyed by rep id.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::MemberTurn;
use crate::record::RepId;

/// Every member's turn in a pool's rotation, keyed by rep id (at most one entry per rep).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Sorted by `id`, ids unique.
    entries: Vec<Entry>,
    /// The pool config whose members these entries' ids were last found to be, in order.
    same_ids: SameIds,
}

/// A compiled pool's member list ([`crate::config::Pool`]'s `ids_token`) that a rotation's ids
/// were found equal to, pairwise in id order, and have not changed since; 0 for none. A cache, not
/// state: equal whatever it holds, never serialized, and reset by any change to the set of ids.
///
/// Why: a router decides a batch of leads over one rotation it read, and the round-robin walk
/// would otherwise compare every member's id with the rotation's on every lead. With the ids
/// known equal, the walk pairs entry `j` with the pool's `j`-th member by id without comparing
/// them, and only the batch's first lead pays the comparison. An atomic, so that a decision can record it through a
/// shared reference and the state stays `Sync`.
#[derive(Debug, Default)]
struct SameIds(AtomicU64);

impl Clone for SameIds {
    fn clone(&self) -> SameIds {
        SameIds(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}

impl PartialEq for SameIds {
    fn eq(&self, _: &SameIds) -> bool {
        true
    }
}

impl Eq for SameIds {}

/// One member's turn, with its id packed for the merge pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The rep.
    pub(crate) id: RepId,
    /// `id`, packed.
    pub(crate) packed: PackedId,
    /// The rep's place in the rotation.
    pub(crate) turn: MemberTurn,
}

impl Rotation {
    /// The turn of `rep`, if it has one.
    pub fn get(&self, rep: &str) -> Option<&MemberTurn> {
        self.find(rep).ok().map(|i| &self.entries[i].turn)
    }

    /// The turn of `rep` to change in place, if it has one.
    pub fn get_mut(&mut self, rep: &str) -> Option<&mut MemberTurn> {
        self.find(rep).ok().map(|i| &mut self.entries[i].turn)
    }

    /// Sets the turn of `rep`; returns the one it replaces.
    pub fn insert(&mut self, rep: RepId, turn: MemberTurn) -> Option<MemberTurn> {
        match self.find(&rep) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].turn, turn)),
            Err(i) => {
                self.entries.insert(i, Entry::new(rep, turn));
                self.same_ids = SameIds::default();
                None
            }
        }
    }

    /// Removes the turn of `rep` (a former member); returns it.
    pub fn remove(&mut self, rep: &str) -> Option<MemberTurn> {
        let i = self.find(rep).ok()?;
        self.same_ids = SameIds::default();
        Some(self.entries.remove(i).turn)
    }

    /// How many reps have a turn.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no rep has a turn yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every (rep, turn), in rep-id order.
    pub fn iter(&self) -> Iter<'_> {
        self.entries.iter().map(Entry::pair)
    }

    /// The entries in rep-id order, for the merge pass.
    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Whether the entries' ids are known to be exactly the member list `token` stands for, in
    /// order (see [`SameIds`]); never for token 0.
    pub(crate) fn has_ids_of(&self, token: u64) -> bool {
        token != 0 && self.same_ids.0.load(Ordering::Relaxed) == token
    }

    /// Records that the entries' ids were found to be exactly `token`'s member list.
    pub(crate) fn set_ids_of(&self, token: u64) {
        self.same_ids.0.store(token, Ordering::Relaxed);
    }

    fn find(&self, rep: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| e.id.as_str().cmp(rep))
    }
}

impl Entry {
    fn new(id: RepId, turn: MemberTurn) -> Entry {
        Entry {
            packed: PackedId::new(&id),
            id,
            turn,
        }
    }

    fn pair(&self) -> (&RepId, &MemberTurn) {
        (&self.id, &self.turn)
    }
}

/// The iterator of [`Rotation::iter`].
pub type Iter<'a> =
    std::iter::Map<std::slice::Iter<'a, Entry>, fn(&'a Entry) -> (&'a RepId, &'a MemberTurn)>;

impl<'a> IntoIterator for &'a Rotation {
    type Item = (&'a RepId, &'a MemberTurn);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromIterator<(RepId, MemberTurn)> for Rotation {
    /// A later turn for the same rep replaces an earlier one, as in a map.
    fn from_iter<I: IntoIterator<Item = (RepId, MemberTurn)>>(iter: I) -> Rotation {
        let mut entries: Vec<Entry> = iter
            .into_iter()
            .map(|(id, turn)| Entry::new(id, turn))
            .collect();
        // Stored rotations arrive sorted: then this is one pass.
        if !entries.is_sorted_by(|a, b| a.id < b.id) {
            // Stable, so equal ids keep their order and the last one is the one kept.
            entries.sort_by(|a, b| a.id.cmp(&b.id));
            let mut kept: Vec<Entry> = Vec::with_capacity(entries.len());
            for e in entries {
                match kept.last_mut() {
                    Some(last) if last.id == e.id => *last = e,
                    _ => kept.push(e),
                }
            }
            entries = kept;
        }
        Rotation {
            entries,
            same_ids: SameIds::default(),
        }
    }
}

impl Serialize for Rotation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for e in &self.entries {
            map.serialize_entry(&e.id, &e.turn)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Rotation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Rotation, D::Error> {
        struct RotationVisitor;
        impl<'de> Visitor<'de> for RotationVisitor {
            type Value = Rotation;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of rep id to member turn")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Rotation, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
                while let Some(pair) = map.next_entry::<RepId, MemberTurn>()? {
                    pairs.push(pair);
                }
                Ok(pairs.into_iter().collect())
            }
        }
        deserializer.deserialize_map(RotationVisitor)
    }
}

/// An id as its length and two words that hold every byte of an id of up to 16 bytes, so that
/// two such ids compare equal with two integer compares and a length compare, without reading
/// either string; longer ids compare as strings as well ([`PackedId::same`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PackedId {
    /// The id as two words ([`id_words`]); `(0, 0)` for ids longer than 16 bytes.
    words: (u64, u64),
    /// The id's length in bytes.
    len: usize,
}

impl PackedId {
    /// `id`, packed.
    pub(crate) fn new(id: &str) -> PackedId {
        PackedId {
            words: id_words(id.as_bytes()).unwrap_or_default(),
            len: id.len(),
        }
    }

    /// Whether the ids packed as `self` and `other` are the same; `strings_equal` compares the
    /// strings themselves and is called only for ids over 16 bytes.
    #[inline]
    pub(crate) fn same(&self, other: &PackedId, strings_equal: impl FnOnce() -> bool) -> bool {
        self.words == other.words
            && self.len == other.len
            && (self.len <= MAX_PACKED || strings_equal())
    }
}

/// The longest id whose words hold every byte.
const MAX_PACKED: usize = 16;

/// Two words that identify a string of up to 16 bytes among strings of its length (every byte
/// is in one of them); `None` for longer strings. Overlapping loads, not a byte loop or a
/// `memcmp` call: `r17` is a few instructions.
#[inline]
fn id_words(b: &[u8]) -> Option<(u64, u64)> {
    let n = b.len();
    Some(match n {
        0 => (0, 0),
        1..=3 => (
            u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16,
            0,
        ),
        4..=7 => (u64::from(word4(b, 0)), u64::from(word4(b, n - 4))),
        8..=MAX_PACKED => (word8(b, 0), word8(b, n - 8)),
        _ => return None,
    })
}

/// The 4 bytes of `s` at `at` as a word (the caller checked the length).
#[inline(always)]
fn word4(s: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[at..at + 4]);
    u32::from_ne_bytes(w)
}

/// The 8 bytes of `s` at `at` as a word (the caller checked the length).
#[inline(always)]
fn word8(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_ne_bytes(w)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{MemberTurn, PackedId, Rotation};

    /// What the merge pass's comparison says about two ids.
    fn same(a: &str, b: &str) -> bool {
        PackedId::new(a).same(&PackedId::new(b), || a == b)
    }

    #[test]
    fn packed_ids_compare_like_strings_at_every_length() {
        let ids = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcde",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
            "r1",
            "r2",
            "r10",
            "r199",
            "r200",
            "rep-0001-long-id-x",
            "rep-0001-long-id-y",
            "é",
            "ü1",
        ];
        for a in ids {
            for b in ids {
                assert_eq!(same(a, b), a == b, "{a:?} vs {b:?}");
            }
            // Same length, one byte different at each position.
            for i in 0..a.len() {
                let mut bytes = a.as_bytes().to_vec();
                bytes[i] ^= 1;
                if let Ok(b) = std::str::from_utf8(&bytes) {
                    assert!(!same(a, b), "{a:?} vs {b:?}");
                }
            }
        }
    }

    fn turn(last_turn: u64) -> MemberTurn {
        MemberTurn {
            last_turn,
            ..MemberTurn::default()
        }
    }

    /// The rotation behaves as the `BTreeMap` it replaced, under the same sequence of changes,
    /// and serializes to the same JSON.
    #[test]
    fn behaves_and_serializes_as_a_map() {
        let mut map: BTreeMap<String, MemberTurn> = BTreeMap::new();
        let mut rot = Rotation::default();
        // A deterministic mix of inserts, replacements and removals over ids of every length.
        let mut x: u64 = 7;
        for step in 0..2000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let id = format!("{}{}", "r".repeat((x >> 60) as usize + 1), (x >> 33) % 50);
            match (x >> 20) % 4 {
                0 => assert_eq!(rot.remove(&id), map.remove(&id), "remove {id}"),
                1 => {
                    if let (Some(a), Some(b)) = (rot.get_mut(&id), map.get_mut(&id)) {
                        a.assigned += step;
                        b.assigned += step;
                    }
                }
                _ => assert_eq!(
                    rot.insert(id.clone(), turn(step)),
                    map.insert(id.clone(), turn(step)),
                    "insert {id}"
                ),
            }
            assert_eq!(rot.get(&id), map.get(&id), "get {id}");
        }
        assert_eq!(rot.len(), map.len());
        assert!(rot.iter().eq(map.iter()), "same entries in the same order");
        assert_eq!(
            serde_json::to_string(&rot).ok(),
            serde_json::to_string(&map).ok()
        );
        let back: Rotation = serde_json::from_str(&serde_json::to_string(&map).unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(back, rot);
    }

    /// A stored object in any key order (and, as JSON allows, a repeated key: the last wins, as
    /// in a map) reads into the sorted rotation.
    #[test]
    fn reads_unsorted_objects_as_a_map_would() {
        let json = r#"{"b":{"last_turn":2,"assigned":1},"a":{"last_turn":1,"assigned":1},"b":{"last_turn":3,"assigned":2}}"#;
        let rot: Result<Rotation, _> = serde_json::from_str(json);
        let map: Result<BTreeMap<String, MemberTurn>, _> = serde_json::from_str(json);
        let (Ok(rot), Ok(map)) = (rot, map) else {
            panic!("both read");
        };
        assert!(rot.iter().eq(map.iter()));
        assert_eq!(rot.get("b").map(|t| t.last_turn), Some(3));
        assert!(rot.entries().is_sorted_by(|a, b| a.id < b.id));
    }
}
