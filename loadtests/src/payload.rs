//! Benchmark payloads: the send time and a sequence number up front, then
//! filler that is part random and part repeated, so compression sees data
//! about as compressible as the workload says.
//!
//! Layout: `[send time, µs since the Unix epoch, u64 LE][producer << 40 | seq, u64 LE][filler]`.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use rand::{Rng, SeedableRng};

/// Makes payloads of one size for one producer.
#[derive(Debug)]
pub struct PayloadMaker {
    filler: Bytes,
    producer: u64,
    next_seq: u64,
}

impl PayloadMaker {
    /// `randomness` is the fraction of the filler that is random bytes.
    pub fn new(size: usize, randomness: f64, producer: u64, seed: u64) -> Self {
        let filler_len = size.saturating_sub(16);
        let random_len = (filler_len as f64 * randomness) as usize;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut filler = BytesMut::with_capacity(filler_len);
        for _ in 0..random_len {
            filler.put_u8(rng.random());
        }
        while filler.len() < filler_len {
            filler.put_u8(b'a' + (filler.len() % 26) as u8);
        }
        Self {
            filler: filler.freeze(),
            producer,
            next_seq: 0,
        }
    }

    /// The next payload, stamped with the current time.
    pub fn make(&mut self) -> Bytes {
        let mut out = BytesMut::with_capacity(16 + self.filler.len());
        out.put_u64_le(now_micros());
        out.put_u64_le(self.producer << 40 | self.next_seq);
        out.put_slice(&self.filler);
        self.next_seq += 1;
        out.freeze()
    }
}

/// Microseconds since the Unix epoch.
pub fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The send time stamped in a payload, if it is one of ours.
pub fn sent_at_micros(payload: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = payload.get(..8)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_carry_their_send_time_and_have_the_asked_size() {
        let mut maker = PayloadMaker::new(1024, 0.5, 3, 7);
        let before = now_micros();
        let p = maker.make();
        assert_eq!(p.len(), 1024);
        let sent = sent_at_micros(&p).unwrap();
        assert!(sent >= before && sent <= now_micros());
        assert_eq!(u64::from_le_bytes(p[8..16].try_into().unwrap()), 3 << 40);
        assert_eq!(
            u64::from_le_bytes(maker.make()[8..16].try_into().unwrap()),
            3 << 40 | 1
        );
    }
}
