//! Rendezvous (highest-random-weight) scores: every gateway computes the same
//! score for the same (gateway, partition) pair, on any machine and any
//! build, so all of them name the same leader without talking to each other.
//! The hash is fixed here for that reason; `std`'s hasher may change between
//! Rust releases.

/// The score of `gateway` for `partition` of `topic_id`.
pub(super) fn score(gateway: u32, topic_id: u128, partition: u32) -> u64 {
    let mut h = mix(u64::from(gateway) ^ 0x9e37_79b9_7f4a_7c15);
    // Truncation is the point: the two halves of the id are mixed in turn.
    h = mix(h ^ (topic_id as u64));
    h = mix(h ^ ((topic_id >> 64) as u64));
    mix(h ^ u64::from(partition))
}

/// splitmix64's finaliser: a bijection that spreads every input bit.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores are computed by every gateway of a cluster, across versions:
    /// they must never change.
    #[test]
    fn scores_are_pinned() {
        assert_eq!(score(1, 7, 0), score(1, 7, 0));
        assert_ne!(score(1, 7, 0), score(2, 7, 0));
        assert_ne!(score(1, 7, 0), score(1, 7, 1));
        assert_eq!(score(1, 7, 3), 0x8b60_b655_bf79_3231);
    }
}
