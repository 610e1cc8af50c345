//! The one integration-test binary (`autotests = false`): each area is a module.

mod apply;
mod cli;
mod families;
mod graph;
mod import;
mod language;
mod onboarding;
mod plan;
mod report;
mod rollout;
mod soc;
mod support;
