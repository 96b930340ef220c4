//! Maelstrom `txn-rw-register` node: placeholder while its challenge is being written.
fn main() {
    eprintln!("txn-rw-register: not implemented yet");
    std::process::exit(1);
}
