//! The second library's one C function: uses std's heap, threads and
//! unwinding, as any Rust module of the daemon would.

use std::os::raw::c_int;

/// Joins 0..n with commas in another thread and returns the text's
/// length, after catching a panic of its own; -1 if the panic escaped.
#[no_mangle]
pub extern "C" fn second_rust_lib_work(n: c_int) -> c_int {
    let text: String = (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let length = std::thread::spawn(move || text.len()).join().unwrap_or(0);
    std::panic::set_hook(Box::new(|_| {}));
    let caught = std::panic::catch_unwind(|| panic!("caught inside the second library"));
    let _ = std::panic::take_hook();
    match caught {
        Err(_) => c_int::try_from(length).unwrap_or(-1),
        Ok(()) => -1,
    }
}
