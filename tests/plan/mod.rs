//! Integration tests: plan (the pure core, renderers, saved plans, and end to end against
//! the in-process emulator).

mod binary;
mod core;
mod e2e;
mod filters;
mod fixtures;
mod render;
mod scale;
