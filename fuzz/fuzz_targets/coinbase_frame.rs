#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzzing::coinbase_frame(data));
