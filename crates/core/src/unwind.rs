//! Stopping a panic of someone else's code (a generator, a payload's
//! `Drop`, a host's logger) where it must not unwind further: through the
//! library's state, or out of a C call.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; `None` if it panicked. The panic's payload is dropped here;
/// should its own `Drop` panic too, that panic's payload is dropped in turn
/// (a message, usually), and after a few such rounds the last one is
/// forgotten (a few bytes, only when payloads keep misbehaving): nothing
/// unwinds out of this.
///
/// Unwind safety is the caller's to judge (`AssertUnwindSafe` inside):
/// every caller runs code that owns nothing of the library's that a panic
/// could leave half-changed.
pub fn catch<R>(f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Some(value),
        Err(mut payload) => {
            for _ in 0..DROP_ROUNDS {
                match catch_unwind(AssertUnwindSafe(move || drop(payload))) {
                    Ok(()) => return None,
                    Err(again) => payload = again,
                }
            }
            std::mem::forget(payload);
            None
        }
    }
}

/// How many payloads in a row `catch` drops, each the panic of the last
/// one's `Drop`, before it forgets one.
const DROP_ROUNDS: usize = 4;

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    struct PanicsOnDrop;

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("the payload's Drop panics");
        }
    }

    #[test]
    fn a_panic_and_a_panicking_payload_are_both_stopped() {
        assert_eq!(catch(|| 7), Some(7));
        assert_eq!(catch(|| -> u8 { panic!("stopped") }), None);
        assert_eq!(
            catch(|| -> u8 { std::panic::panic_any(PanicsOnDrop) }),
            None
        );
    }
}
