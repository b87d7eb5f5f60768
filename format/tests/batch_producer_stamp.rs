//! An idempotent producer's fields written into an encoded batch keep it valid.

use bytes::{Bytes, BytesMut};
use stratus_format::batch::{RecordInput, batch_infos, decode_chunk, encode_batch, stamp_producer};

#[test]
fn stamped_batches_carry_the_producer_and_pass_their_crc() {
    let records: Vec<RecordInput> = (0..3)
        .map(|i| RecordInput {
            key: None,
            value: Some(Bytes::from(format!("v{i}"))),
            headers: Vec::new(),
            timestamp_ms: 1_000 + i,
        })
        .collect();
    let mut batch = BytesMut::from(&encode_batch(&records, 1).unwrap()[..]);
    stamp_producer(&mut batch, 42, 7, 1_000).unwrap();
    let batch = batch.freeze();
    let info = batch_infos(&batch).unwrap()[0];
    assert_eq!(
        (info.producer_id, info.producer_epoch, info.base_sequence),
        (42, 7, 1_000)
    );
    // Decoding checks the CRC, which covers the producer fields.
    let decoded = decode_chunk(&batch, 10).unwrap();
    assert_eq!(decoded.len(), 3);
    assert_eq!(decoded[2].offset, 12);

    let mut short = [0u8; 10];
    assert!(stamp_producer(&mut short, 1, 0, 0).is_err());
}
