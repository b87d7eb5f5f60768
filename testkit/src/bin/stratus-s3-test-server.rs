//! Runs the test S3 server as a process, for benchmarks and manual runs:
//! `stratus-s3-test-server DIR BUCKET...` prints the endpoint and the AWS
//! environment to use, then serves until killed.

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(root) = args.next().map(PathBuf::from) else {
        eprintln!("usage: stratus-s3-test-server DIR BUCKET...");
        std::process::exit(2);
    };
    let buckets: Vec<String> = args.collect();
    let buckets: Vec<&str> = buckets.iter().map(String::as_str).collect();
    let server = stratus_testkit::S3Server::start(&root, &buckets);
    println!("endpoint {}", server.endpoint());
    for (key, value) in server.client_env() {
        println!("export {key}={value}");
    }
    loop {
        std::thread::park();
    }
}
