//! Maelstrom `g-counter` node: placeholder while its challenge is being written.
fn main() {
    eprintln!("g-counter: not implemented yet");
    std::process::exit(1);
}
