//! Integration tests: offline import and the settings YAML layer.

mod errors;
mod files;
mod proptests;
mod roundtrip;
