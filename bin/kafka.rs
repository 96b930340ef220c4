//! Maelstrom `kafka` node: placeholder while its challenge is being written.
fn main() {
    eprintln!("kafka: not implemented yet");
    std::process::exit(1);
}
