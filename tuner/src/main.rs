use clap::Parser;

fn main() {
    let cli = tuner::cli::Cli::parse();
    if let Err(e) = tuner::cli::run(cli) {
        eprintln!("error: {e}");
        // The causes the message does not already say.
        let mut shown = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let text = s.to_string();
            if !shown.contains(&text) {
                eprintln!("  caused by: {text}");
            }
            shown = text;
            source = s.source();
        }
        std::process::exit(1);
    }
}
