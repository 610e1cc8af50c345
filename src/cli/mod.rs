//! The command-line layer: argument parsing (clap) and the only place that writes to
//! stdout/stderr. Each subcommand lives in its own file and maps its outcome to an exit code.

/// Exit codes, as documented in the README.
pub mod exit {
    /// Success; with `--detailed-exitcode`, also "no changes".
    pub const OK: i32 = 0;
    /// Any error: invalid input, a failed tenant, a refused apply.
    pub const ERROR: i32 = 1;
    /// With `--detailed-exitcode`: the plan has changes.
    pub const CHANGES: i32 = 2;
}

/// Runs the CLI with the process arguments and returns the exit code.
pub fn run() -> i32 {
    exit::OK
}
