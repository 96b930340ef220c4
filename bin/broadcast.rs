//! Maelstrom `broadcast` node: placeholder while its challenge is being written.
fn main() {
    eprintln!("broadcast: not implemented yet");
    std::process::exit(1);
}
