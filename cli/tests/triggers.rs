//! Triggers end to end, with real processes: `stratus dev` (or a gateway and
//! a separate `stratus dispatcher`), and the example `lambda_runtime`
//! function from `triggers/examples/` talking to the dispatcher's local
//! Lambda Runtime API. One test binary for every trigger test, to keep link
//! time down.

mod common;

#[path = "triggers/support.rs"]
mod support;

#[path = "triggers/bench.rs"]
mod bench;
#[path = "triggers/crash.rs"]
mod crash;
#[path = "triggers/in_order.rs"]
mod in_order;
#[path = "triggers/poison.rs"]
mod poison;
