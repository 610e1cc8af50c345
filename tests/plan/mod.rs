//! Integration tests: plan (the pure core, renderers, saved plans).

mod core;
mod fixtures;
mod render;
