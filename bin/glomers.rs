//! `glomers`: the JVM-free, Maelstrom-compatible bench. See
//! [`glomers::bench::cli`] for the commands.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    // The launcher that starts a node process (hidden; see
    // `glomers::bench::launcher`): it never reaches the CLI.
    if args.get(1).map(String::as_str) == Some(glomers::bench::launcher::SUBCOMMAND) {
        std::process::exit(glomers::bench::launcher::main(&args[2..]));
    }
    let code = glomers::bench::cli::main_with(args);
    std::process::exit(code);
}
