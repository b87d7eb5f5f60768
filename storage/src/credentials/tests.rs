//! SCRAM credentials against the in-memory metadata store.

use std::sync::Arc;

use stratus_meta::memory::MemoryMetaStore;

use super::*;

fn store() -> ScramCredentials {
    ScramCredentials::new(Arc::new(MemoryMetaStore::new()), KeySpace::new("c"))
}

/// A well-shaped record for `mechanism` (1: 32-byte keys, 2: 64-byte).
fn record(mechanism: u16, byte: u8) -> ScramRecord {
    let len = key_len(mechanism).unwrap_or(32);
    ScramRecord {
        salt: vec![byte; 4],
        iterations: 4096,
        stored_key: vec![byte; len],
        server_key: vec![byte.wrapping_add(1); len],
    }
}

#[tokio::test]
async fn put_get_list_and_delete() {
    let store = store();
    assert_eq!(store.get("alice", 1).await.unwrap(), None);
    store.put("alice", 1, &record(1, 1)).await.unwrap();
    store.put("alice", 2, &record(2, 2)).await.unwrap();
    store.put("bob", 2, &record(2, 3)).await.unwrap();
    store.put("alice", 2, &record(2, 4)).await.unwrap();
    assert_eq!(store.get("alice", 2).await.unwrap(), Some(record(2, 4)));
    let alice = store.of_user("alice").await.unwrap();
    assert_eq!(
        alice.iter().map(|c| c.mechanism).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let all = store.list().await.unwrap();
    assert_eq!(
        all.iter()
            .map(|c| (c.user.as_str(), c.mechanism))
            .collect::<Vec<_>>(),
        vec![("alice", 1), ("alice", 2), ("bob", 2)]
    );
    assert!(store.delete("alice", 1).await.unwrap());
    assert!(!store.delete("alice", 1).await.unwrap());
    assert_eq!(store.of_user("alice").await.unwrap().len(), 1);
}

#[tokio::test]
async fn user_names_are_bounded() {
    let store = store();
    assert!(matches!(
        store.put("", 1, &record(1, 1)).await,
        Err(CredentialError::BadUser(0))
    ));
    let long = "x".repeat(MAX_USER_BYTES + 1);
    assert!(store.get(&long, 1).await.is_err());
    let mut short = record(1, 1);
    short.stored_key.pop();
    for (mechanism, record) in [(1, short), (2, record(1, 1)), (3, record(1, 1))] {
        assert!(matches!(
            store.put("alice", mechanism, &record).await,
            Err(CredentialError::BadCredential(_))
        ));
    }
    let mut few = record(1, 1);
    few.iterations = 100;
    assert!(store.put("alice", 1, &few).await.is_err());
}

/// The record is persisted: its JSON must not change shape.
#[test]
fn record_bytes_are_pinned() {
    let record = ScramRecord {
        salt: vec![1, 2],
        iterations: 4096,
        stored_key: vec![3],
        server_key: vec![4],
    };
    assert_eq!(
        serde_json::to_string(&record).unwrap(),
        r#"{"salt":[1,2],"iterations":4096,"stored_key":[3],"server_key":[4]}"#
    );
}
