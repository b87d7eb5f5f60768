//! Triggers end to end, with real processes: `stratus dev` (or a gateway and
//! a separate `stratus dispatcher`), and the example `lambda_runtime`
//! function from `triggers/examples/` talking to the dispatcher's local
//! Lambda Runtime API. One test binary for every trigger test, to keep link
//! time down.

mod support;

mod bench;
mod crash;
mod in_order;
mod poison;
