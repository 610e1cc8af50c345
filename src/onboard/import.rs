//! `rampart import --tenant`: under construction in this session.
