//! The `weft` binary.

/// mimalloc instead of the system allocator: decoding and dropping OTLP requests makes tens of
/// small allocations per span on the I/O threads, and glibc's malloc spent a third of weft's
/// CPU on them (chunk coalescing included) in the chain profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    weft::cli::main()
}
