//! Which availability zone a Kafka client is in, so Metadata names leaders in
//! its own zone and its produce and fetch traffic stays there.
//!
//! Kafka clients have no field for their zone (`client.rack` reaches only
//! fetch-from-follower), so, as other brokers for object storage do, the
//! client says it in its `client.id`: `my-app,stratus_zone=us-east-1a`. A
//! listener can give a zone to the clients that do not say one
//! (`kafka.client_zone`, for a listener only one zone reaches).

use crate::limits::MAX_ZONE_BYTES;

/// The key a client puts in its `client.id`.
pub const CLIENT_ID_ZONE_KEY: &str = "stratus_zone=";

/// The zone named in `client_id`, or else `listener_default`. A zone that is
/// empty or longer than [`MAX_ZONE_BYTES`] is no zone: a client cannot make
/// the gateway hold an arbitrary string per request.
pub fn client_zone<'a>(client_id: &'a str, listener_default: Option<&'a str>) -> Option<&'a str> {
    client_id
        .split(',')
        .filter_map(|part| part.trim().strip_prefix(CLIENT_ID_ZONE_KEY))
        .map(str::trim)
        .find(|zone| !zone.is_empty() && zone.len() <= MAX_ZONE_BYTES)
        .or(listener_default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zone_comes_from_the_client_id_or_the_listener() {
        assert_eq!(
            client_zone("orders,stratus_zone=us-east-1a", None),
            Some("us-east-1a")
        );
        assert_eq!(
            client_zone("stratus_zone=eu-west-1b, orders", Some("x")),
            Some("eu-west-1b")
        );
        assert_eq!(
            client_zone("orders", Some("us-east-1c")),
            Some("us-east-1c")
        );
        assert_eq!(client_zone("orders", None), None);
        assert_eq!(client_zone("", None), None);
        // Not a zone: empty, too long, or the key inside another word.
        assert_eq!(client_zone("a,stratus_zone=", Some("d")), Some("d"));
        let long = format!("stratus_zone={}", "z".repeat(MAX_ZONE_BYTES + 1));
        assert_eq!(client_zone(&long, None), None);
        assert_eq!(client_zone("xstratus_zone=a", None), None);
    }
}
