//! [`ScoreMap`]: the scores of one candidate node, small on purpose.
//!
//! Every placement keeps the scores of its five best candidates, each a
//! map of one to six scorer names to numbers. As a `BTreeMap<String, f64>`
//! each cost about 400 bytes (a B-tree leaf is allocated for 11 entries,
//! and every name is its own heap string): some 2 KB of every allocation,
//! a quarter of what a million allocations held. A sorted vector with the
//! scorers' static names costs 32 bytes per score, and serialises to the
//! same JSON object as before.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ranking::score_card;

/// Scores by scorer name (`binpack`, `job-anti-affinity`, ...), in name
/// order; one entry per name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoreMap {
    entries: Vec<(Cow<'static, str>, f64)>,
}

impl ScoreMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The score of `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.position(name).ok().map(|i| self.entries[i].1)
    }

    /// Whether `name` has a score.
    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Sets the score of `name`, replacing any earlier one.
    pub fn insert(&mut self, name: impl Into<Cow<'static, str>>, score: f64) {
        let name = name.into();
        match self.position(&name) {
            Ok(i) => self.entries[i].1 = score,
            Err(i) => self.entries.insert(i, (name, score)),
        }
    }

    /// The scores in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.entries
            .iter()
            .map(|(name, score)| (name.as_ref(), *score))
    }

    /// The number of scores.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no scores.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.entries
            .binary_search_by(|(listed, _)| listed.as_ref().cmp(name))
    }
}

impl<N: Into<Cow<'static, str>>> FromIterator<(N, f64)> for ScoreMap {
    fn from_iter<I: IntoIterator<Item = (N, f64)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut map = ScoreMap {
            entries: Vec::with_capacity(iter.size_hint().0),
        };
        for (name, score) in iter {
            map.insert(name, score);
        }
        map.entries.shrink_to_fit();
        map
    }
}

impl std::ops::Index<&str> for ScoreMap {
    type Output = f64;

    fn index(&self, name: &str) -> &f64 {
        match self.position(name) {
            Ok(i) => &self.entries[i].1,
            Err(_) => panic!("no score named {name:?}"),
        }
    }
}

impl Serialize for ScoreMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (name, score) in &self.entries {
            map.serialize_entry(name.as_ref(), score)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ScoreMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScoresVisitor;

        impl<'de> Visitor<'de> for ScoresVisitor {
            type Value = ScoreMap;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of scores by name")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<ScoreMap, A::Error> {
                let mut map = ScoreMap {
                    entries: Vec::with_capacity(access.size_hint().unwrap_or(0).min(16)),
                };
                while let Some(name) = access.next_key_seed(ScoreName)? {
                    let score = access.next_value::<f64>()?;
                    map.insert(name, score);
                }
                Ok(map)
            }
        }

        deserializer.deserialize_map(ScoresVisitor)
    }
}

/// Reads a score's name, borrowing the names the ranking writes instead of
/// allocating a copy: a follower reads five scored nodes with one to five
/// names each for every allocation it applies.
struct ScoreName;

/// The names the ranking gives scores (`ranking::score_card`).
const RANKING_NAMES: [&str; 7] = [
    score_card::BINPACK,
    score_card::JOB_ANTI_AFFINITY,
    score_card::NODE_RESCHEDULE_PENALTY,
    score_card::NODE_AFFINITY,
    score_card::ALLOCATION_SPREAD,
    score_card::DEVICES,
    score_card::PREEMPTION,
];

impl<'de> DeserializeSeed<'de> for ScoreName {
    type Value = Cow<'static, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for ScoreName {
    type Value = Cow<'static, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a score name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Self::Value, E> {
        Ok(match RANKING_NAMES.iter().find(|known| **known == name) {
            Some(known) => Cow::Borrowed(known),
            None => Cow::Owned(name.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_ranking_writes_read_back_without_a_copy() {
        let map: ScoreMap =
            serde_json::from_str(r#"{"binpack":0.5,"my-scorer":1.0,"job-anti-affinity":-0.2}"#)
                .expect("reads");
        let borrowed: Vec<(&str, bool)> = map
            .entries
            .iter()
            .map(|(name, _)| (name.as_ref(), matches!(name, Cow::Borrowed(_))))
            .collect();
        assert_eq!(
            borrowed,
            [
                ("binpack", true),
                ("job-anti-affinity", true),
                ("my-scorer", false)
            ]
        );
        assert_eq!(map.get("my-scorer"), Some(1.0));
        assert!(serde_json::from_str::<ScoreMap>(r#"{"binpack":"high"}"#).is_err());
        assert!(serde_json::from_str::<ScoreMap>(r#"{"binpack":1.0,"#).is_err());
    }

    #[test]
    fn scores_stay_a_json_object_in_name_order() {
        let map: ScoreMap = [("job-anti-affinity", -0.5), ("binpack", 0.75)]
            .into_iter()
            .collect();
        let json = serde_json::to_string(&map).expect("serialises");
        assert_eq!(json, r#"{"binpack":0.75,"job-anti-affinity":-0.5}"#);
        let back: ScoreMap = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, map);
        assert_eq!(map["binpack"], 0.75);
        assert_eq!(map.get("job-anti-affinity"), Some(-0.5));
        assert!(!map.contains_key("spread"));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn a_name_given_twice_keeps_the_last_score() {
        let mut map = ScoreMap::new();
        map.insert("binpack", 0.1);
        map.insert(String::from("binpack"), 0.2);
        assert_eq!(map.iter().collect::<Vec<_>>(), [("binpack", 0.2)]);
        let parsed: ScoreMap =
            serde_json::from_str(r#"{"b":1.0,"a":2.0,"b":3.0}"#).expect("parses");
        assert_eq!(parsed.iter().collect::<Vec<_>>(), [("a", 2.0), ("b", 3.0)]);
        assert!(serde_json::from_str::<ScoreMap>(r#"{"a":"x"}"#).is_err());
    }
}
