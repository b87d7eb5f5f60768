//! Kafka's rules for topic names, shared by every front end (gRPC, the Kafka
//! listener) and by trigger definitions, so a name valid in one is valid in
//! all of them.

pub use crate::limits::MAX_TOPIC_NAME_LEN;

/// A topic name Kafka would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicNameError {
    #[error("topic name is empty; give a name of 1 to {MAX_TOPIC_NAME_LEN} characters")]
    Empty,
    #[error(
        "topic name is {len} characters long; the limit is {MAX_TOPIC_NAME_LEN}, choose a shorter name"
    )]
    TooLong { len: usize },
    #[error("topic name {0:?} is reserved; choose another name")]
    Reserved(String),
    #[error(
        "topic name {name:?} contains {bad:?}; use only ASCII letters, digits, '.', '_' and '-'"
    )]
    InvalidCharacter { name: String, bad: char },
}

/// Checks a topic name against Kafka's rules.
pub fn validate_topic_name(name: &str) -> Result<(), TopicNameError> {
    if name.is_empty() {
        return Err(TopicNameError::Empty);
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Err(TopicNameError::TooLong { len: name.len() });
    }
    if name == "." || name == ".." {
        return Err(TopicNameError::Reserved(name.to_owned()));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(TopicNameError::InvalidCharacter {
            name: name.to_owned(),
            bad,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_rules() {
        assert_eq!(validate_topic_name(""), Err(TopicNameError::Empty));
        assert!(matches!(
            validate_topic_name("a b"),
            Err(TopicNameError::InvalidCharacter { bad: ' ', .. })
        ));
        assert!(matches!(
            validate_topic_name(".."),
            Err(TopicNameError::Reserved(_))
        ));
        let long = "a".repeat(MAX_TOPIC_NAME_LEN + 1);
        assert!(matches!(
            validate_topic_name(&long),
            Err(TopicNameError::TooLong { .. })
        ));
        assert!(validate_topic_name("orders.v2_eu-1").is_ok());
        assert!(validate_topic_name(&long[1..]).is_ok());
    }
}
