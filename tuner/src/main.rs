use clap::Parser;

fn main() {
    let cli = tuner::cli::Cli::parse();
    if let Err(e) = tuner::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
