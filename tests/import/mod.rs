//! Integration tests: offline import and the settings YAML layer.

mod docs;
mod errors;
mod files;
mod pipeline;
mod proptests;
mod roundtrip;
