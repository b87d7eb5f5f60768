//! ApiVersions: the advertised table, at every version from 0 to 4. (The
//! answer to a newer version is `encode::api_versions_fallback`.)

use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse, ResponseKind};

use crate::encode::api_version_list;

pub(crate) fn handle(version: i16, _request: &ApiVersionsRequest) -> ResponseKind {
    let mut response = ApiVersionsResponse::default().with_api_keys(api_version_list());
    if version >= 3 {
        // No feature flags: Stratus negotiates no KRaft features (-1 is
        // Kafka's "no finalized features" epoch).
        response.finalized_features_epoch = -1;
    }
    ResponseKind::ApiVersions(response)
}
