//! The persisted shapes of Kafka classic-protocol groups (JSON; add fields
//! with defaults, never remove or rename one). Protocol metadata and
//! assignments are opaque client bytes, stored as hex so a record stays one
//! readable JSON value.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Where a classic group is in its rebalance cycle (Kafka's group states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassicState {
    /// No members; committed offsets may still exist.
    Empty,
    /// A round is open: members rejoin until all have or the deadline passes.
    PreparingRebalance,
    /// The round completed a generation; waiting for the leader's assignment.
    CompletingRebalance,
    /// Every member has its assignment.
    Stable,
}

impl ClassicState {
    /// Kafka's name of the state, as DescribeGroups and ListGroups report it.
    pub fn kafka_name(self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::PreparingRebalance => "PreparingRebalance",
            Self::CompletingRebalance => "CompletingRebalance",
            Self::Stable => "Stable",
        }
    }
}

/// A classic group, under [`crate::keys::Tag::ClassicGroup`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassicGroupRecord {
    pub state: ClassicState,
    /// Bumped by every completed round; commits, syncs and heartbeats carry it.
    pub generation: i64,
    /// Bumped by every round that opens; a member has rejoined the open round
    /// when its `round` equals this.
    pub round: i64,
    /// `PreparingRebalance`: the round completes without the members that
    /// have not rejoined by then. `CompletingRebalance`: the leader's
    /// SyncGroup is given up on and a new round opens.
    pub deadline_ms: i64,
    /// `PreparingRebalance`: the round does not complete before this (the
    /// initial rebalance delay of a group that was empty).
    #[serde(default)]
    pub not_before_ms: i64,
    /// The members' protocol type (`consumer` for consumers); empty for a
    /// group that only ever had offsets committed without members.
    pub protocol_type: String,
    /// The protocol (assignor) chosen for `generation`.
    pub protocol: Option<String>,
    /// The member that assigns partitions in `generation`.
    pub leader: Option<String>,
    pub created_ms: i64,
}

/// One protocol a member offers: an assignor name and its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassicProtocol {
    pub name: String,
    pub metadata: Hex,
}

/// A classic member, under [`crate::keys::Tag::ClassicMember`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassicMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i64,
    pub rebalance_timeout_ms: i64,
    /// The member is dead once the clock passes this without a heartbeat
    /// (members that rejoined the open round are alive until it completes).
    pub deadline_ms: i64,
    /// In the member's order of preference.
    pub protocols: Vec<ClassicProtocol>,
    /// The round the member last joined in.
    pub round: i64,
    /// The generation the member belongs to; 0 before its first.
    pub generation: i64,
    /// What the leader assigned it in `generation`.
    pub assignment: Hex,
    pub joined_ms: i64,
}

impl ClassicMember {
    /// The metadata it offered with `protocol`, empty if it offered none.
    pub fn metadata(&self, protocol: &str) -> &[u8] {
        self.protocols
            .iter()
            .find(|p| p.name == protocol)
            .map_or(&[][..], |p| &p.metadata.0)
    }

    /// Whether it offers `protocol`.
    pub fn offers(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|p| p.name == protocol)
    }
}

/// Client bytes, stored as lowercase hex.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hex(pub Vec<u8>);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(self.0.len() * 2);
        for b in &self.0 {
            out.push(DIGITS[usize::from(b >> 4)] as char);
            out.push(DIGITS[usize::from(b & 15)] as char);
        }
        s.serialize_str(&out)
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let digit = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(serde::de::Error::custom("not a lowercase hex digit")),
        };
        if text.len() % 2 != 0 {
            return Err(serde::de::Error::custom("odd number of hex digits"));
        }
        text.as_bytes()
            .chunks(2)
            .map(|pair| Ok((digit(pair[0])? << 4) | digit(pair[1])?))
            .collect::<Result<Vec<u8>, _>>()
            .map(Hex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{
        MAX_CLASSIC_MEMBER_PAYLOAD_BYTES, MAX_CLASSIC_PROTOCOL_NAME_LEN, MAX_CLASSIC_PROTOCOLS,
        MAX_ID_LEN,
    };

    /// The persisted JSON shapes are part of the format.
    #[test]
    fn records_json_is_pinned() {
        let group = ClassicGroupRecord {
            state: ClassicState::Stable,
            generation: 3,
            round: 4,
            deadline_ms: 5,
            not_before_ms: 6,
            protocol_type: "consumer".into(),
            protocol: Some("range".into()),
            leader: Some("m".into()),
            created_ms: 1,
        };
        assert_eq!(
            serde_json::to_string(&group).unwrap(),
            r#"{"state":"stable","generation":3,"round":4,"deadline_ms":5,"not_before_ms":6,"protocol_type":"consumer","protocol":"range","leader":"m","created_ms":1}"#
        );
        let member = ClassicMember {
            member_id: "m".into(),
            group_instance_id: None,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: 10,
            rebalance_timeout_ms: 20,
            deadline_ms: 30,
            protocols: vec![ClassicProtocol {
                name: "range".into(),
                metadata: Hex(vec![0, 0xab]),
            }],
            round: 4,
            generation: 3,
            assignment: Hex(vec![0xff]),
            joined_ms: 2,
        };
        let json = serde_json::to_string(&member).unwrap();
        assert_eq!(
            json,
            r#"{"member_id":"m","group_instance_id":null,"client_id":"c","client_host":"/127.0.0.1","session_timeout_ms":10,"rebalance_timeout_ms":20,"deadline_ms":30,"protocols":[{"name":"range","metadata":"00ab"}],"round":4,"generation":3,"assignment":"ff","joined_ms":2}"#
        );
        assert_eq!(
            serde_json::from_str::<ClassicMember>(&json).unwrap(),
            member
        );
        assert!(serde_json::from_str::<Hex>(r#""0""#).is_err());
        assert!(serde_json::from_str::<Hex>(r#""zz""#).is_err());
    }

    /// The largest member the settings may allow (all of the payload bound
    /// as metadata, or all as assignment) fits in one metadata value.
    #[test]
    fn the_largest_member_fits_in_a_value() {
        let payload = MAX_CLASSIC_MEMBER_PAYLOAD_BYTES;
        for assignment in [0, payload / 2, payload] {
            let per = (payload - assignment) / MAX_CLASSIC_PROTOCOLS;
            let member = ClassicMember {
                member_id: "m".repeat(MAX_ID_LEN),
                group_instance_id: Some("i".repeat(MAX_ID_LEN)),
                client_id: "\u{1}".repeat(MAX_ID_LEN),
                client_host: "h".repeat(MAX_ID_LEN),
                session_timeout_ms: i64::MIN,
                rebalance_timeout_ms: i64::MIN,
                deadline_ms: i64::MIN,
                protocols: (0..MAX_CLASSIC_PROTOCOLS)
                    .map(|_| ClassicProtocol {
                        name: "\u{1}".repeat(MAX_CLASSIC_PROTOCOL_NAME_LEN),
                        metadata: Hex(vec![0; per]),
                    })
                    .collect(),
                round: i64::MIN,
                generation: i64::MIN,
                assignment: Hex(vec![0; assignment]),
                joined_ms: i64::MIN,
            };
            let value = serde_json::to_vec(&member).unwrap();
            assert!(
                value.len() <= stratus_meta::limits::MAX_VALUE_BYTES,
                "{assignment}: {}",
                value.len()
            );
        }
    }
}
