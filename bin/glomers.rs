//! `glomers`: the JVM-free, Maelstrom-compatible bench. See
//! [`glomers::bench::cli`] for the commands.
fn main() {
    let code = glomers::bench::cli::main_with(std::env::args().collect());
    std::process::exit(code);
}
