//! Maelstrom `unique-ids` node: placeholder while its challenge is being written.
fn main() {
    eprintln!("unique-ids: not implemented yet");
    std::process::exit(1);
}
