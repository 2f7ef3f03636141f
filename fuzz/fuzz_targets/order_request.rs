#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::order_request(data));
