//! The one integration-test binary (`autotests = false`): each area is a module.

mod apply;
mod cli;
mod graph;
mod import;
mod language;
mod onboarding;
mod plan;
mod report;
mod support;
