//! Any bytes as a schema.org JSON-LD in HTML pages or bare JSON feed (the checks: feed_check.rs).
#![no_main]

#[path = "feed_check.rs"]
mod feed_check;

use aisle::shop::feed::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| feed_check::check(data, Format::JsonLd));
