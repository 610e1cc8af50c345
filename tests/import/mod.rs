//! Integration tests: offline import and the settings YAML layer.

mod roundtrip;
