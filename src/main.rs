fn main() {
    std::process::exit(rampart::cli::run());
}
