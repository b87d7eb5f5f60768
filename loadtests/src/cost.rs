//! The cost model: dollars per GiB ingested and served, from the object-store
//! requests and bytes a run actually made, at list prices.
//!
//! Prices are AWS us-east-1 list prices (per 1,000 requests and per GB), as
//! published for S3 Standard and S3 Express One Zone; update them here. Only
//! request and transfer charges are modelled: storage ($/GB-month) depends on
//! retention, not on the benchmark, and compute is the gateways' instances.

use crate::target::StoreRequests;

/// One storage class's request and transfer prices.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct PriceList {
    pub name: &'static str,
    /// PUT, COPY, POST, LIST: dollars per 1,000 requests.
    pub put_per_1k: f64,
    /// GET and all other requests: dollars per 1,000.
    pub get_per_1k: f64,
    /// Dollars per GB uploaded beyond 512 KiB of each request (S3 Express).
    pub upload_per_gb_over_512k: f64,
    /// Dollars per GB retrieved beyond 512 KiB of each request (S3 Express).
    pub retrieve_per_gb_over_512k: f64,
}

pub const S3_STANDARD: PriceList = PriceList {
    name: "S3 Standard",
    put_per_1k: 0.005,
    get_per_1k: 0.0004,
    upload_per_gb_over_512k: 0.0,
    retrieve_per_gb_over_512k: 0.0,
};

pub const S3_EXPRESS_ONE_ZONE: PriceList = PriceList {
    name: "S3 Express One Zone",
    put_per_1k: 0.00113,
    get_per_1k: 0.00003,
    upload_per_gb_over_512k: 0.0032,
    retrieve_per_gb_over_512k: 0.0006,
};

/// What a run cost per GiB at one price list.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Cost {
    pub price_list: &'static str,
    /// Requests that write (PUTs, multipart parts) per GiB of records acknowledged.
    pub puts_per_gib_ingested: f64,
    /// Ranged GETs per GiB of records consumers received.
    pub gets_per_gib_served: f64,
    pub dollars_per_gib_ingested: f64,
    pub dollars_per_gib_served: f64,
}

const GB: f64 = 1e9;
const GIB: f64 = (1u64 << 30) as f64;
const FREE_PER_REQUEST: f64 = 512.0 * 1024.0;

/// The cost of `requests` for `ingested_bytes` acknowledged and
/// `served_bytes` delivered to consumers (record payload bytes).
///
/// Bytes beyond 512 KiB per request are estimated from the average request
/// size (the counters keep totals, not a size per request), which is exact
/// when requests are of one size, as flushes and ranged reads mostly are.
pub fn cost(
    prices: &PriceList,
    requests: &StoreRequests,
    ingested_bytes: f64,
    served_bytes: f64,
) -> Cost {
    let over = |count: u64, bytes: u64| {
        if count == 0 {
            return 0.0;
        }
        let average = bytes as f64 / count as f64;
        (average - FREE_PER_REQUEST).max(0.0) * count as f64
    };
    // LIST, HEAD, DELETE: LIST is priced as a PUT, the others as GETs or free;
    // count them all as PUTs to stay on the safe side.
    let write_dollars = (requests.put + requests.other) as f64 / 1000.0 * prices.put_per_1k
        + over(requests.put, requests.put_bytes) / GB * prices.upload_per_gb_over_512k;
    let read_dollars = requests.get as f64 / 1000.0 * prices.get_per_1k
        + over(requests.get, requests.get_bytes) / GB * prices.retrieve_per_gb_over_512k;
    let ingested_gib = (ingested_bytes / GIB).max(f64::MIN_POSITIVE);
    let served_gib = served_bytes / GIB;
    Cost {
        price_list: prices.name,
        puts_per_gib_ingested: requests.put as f64 / ingested_gib,
        gets_per_gib_served: if served_gib > 0.0 {
            requests.get as f64 / served_gib
        } else {
            0.0
        },
        dollars_per_gib_ingested: write_dollars / ingested_gib,
        dollars_per_gib_served: if served_gib > 0.0 {
            read_dollars / served_gib
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thousand_puts_per_gib_cost_half_a_cent_on_s3_standard() {
        let requests = StoreRequests {
            put: 1000,
            put_bytes: 1 << 30,
            ..Default::default()
        };
        let c = cost(&S3_STANDARD, &requests, GIB, 0.0);
        assert!((c.dollars_per_gib_ingested - 0.005).abs() < 1e-12, "{c:?}");
        assert_eq!(c.puts_per_gib_ingested, 1000.0);
        assert_eq!(c.dollars_per_gib_served, 0.0);
    }

    #[test]
    fn s3_express_charges_bytes_beyond_512_kib_per_request() {
        // 1,000 PUTs of 1 MiB: 512 KiB each over the free part.
        let requests = StoreRequests {
            put: 1000,
            put_bytes: 1000 << 20,
            ..Default::default()
        };
        let c = cost(&S3_EXPRESS_ONE_ZONE, &requests, (1000u64 << 20) as f64, 0.0);
        let expected_dollars = 0.00113 + (1000.0 * 512.0 * 1024.0) / GB * 0.0032;
        let gib = (1000u64 << 20) as f64 / GIB;
        assert!((c.dollars_per_gib_ingested - expected_dollars / gib).abs() < 1e-12);
    }
}
