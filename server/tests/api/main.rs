// integration tests: see helpers.rs
