//! The `auspex` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "auspex",
    version,
    about = "A monitoring engine that speaks the Icinga 2 REST API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Evaluates an expression of the Icinga DSL and prints the result as JSON, as
    /// `icinga2 console --eval` does.
    Console {
        /// The expression or script to evaluate.
        #[arg(long)]
        eval: String,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Console { eval } => {
            let (output, ok) = filters::console::eval_plain(&eval);
            println!("{output}");
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
