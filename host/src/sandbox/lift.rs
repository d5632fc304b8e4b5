//! Lifting a guest's answer into host memory within a byte budget.
//!
//! wasmtime lifts a `list<edit>` by copying every string and list it points at. A guest can
//! point a million edits at the same megabyte of its memory: the answer costs the guest one
//! megabyte and the host a terabyte. So the answer's types are lifted through [`Budgeted`]
//! wrappers that charge each string's and list's length to the call's budget *before* the
//! host allocates for it; past the budget the lift fails and the call is refused as output
//! amplification, having allocated at most the budget.
//!
//! The answers' mirror types are in `super::answers`.

use std::cell::Cell;

use wasmtime::ValRaw;
use wasmtime::component::__internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LiftContext};
use wasmtime::component::{ComponentType, Lift};

thread_local! {
    /// Bytes the lift in progress on this thread may still allocate; `None` outside a
    /// budgeted call (nothing is charged then).
    static REMAINING: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The error a budgeted lift fails with when the answer is too large.
#[derive(Debug, thiserror::Error)]
#[error(
    "output amplification: the answer points at more data than its {left} remaining bytes of \
     budget ({bytes} more bytes in one string or list)"
)]
pub struct OverBudget {
    /// Bytes of budget left.
    pub left: usize,
    /// Bytes the next string or list would have taken.
    pub bytes: usize,
}

/// Runs `call` with a lift budget of `bytes` on this thread. Lifts done by `call` fail once
/// they would allocate more in total.
pub fn with_budget<R>(bytes: usize, call: impl FnOnce() -> R) -> R {
    struct Reset(Option<usize>);
    impl Drop for Reset {
        fn drop(&mut self) {
            REMAINING.with(|cell| cell.set(self.0));
        }
    }
    let _reset = Reset(REMAINING.with(|cell| cell.replace(Some(bytes))));
    call()
}

/// Charges `bytes` to the budget, or fails the lift.
fn charge(bytes: usize) -> wasmtime::Result<()> {
    REMAINING.with(|cell| match cell.get() {
        None => Ok(()),
        Some(left) if bytes <= left => {
            cell.set(Some(left - bytes));
            Ok(())
        }
        Some(left) => Err(wasmtime::Error::new(OverBudget { left, bytes })),
    })
}

/// A `String` or `Vec<T>` whose lift is charged to the budget first.
pub struct Budgeted<T>(pub T);

/// How many host bytes lifting a value of this type with `len` elements allocates.
pub trait HostSize {
    /// Host bytes for `len` elements.
    fn host_bytes(len: usize) -> usize;
}

/// The bit wasmtime sets in a string's length word for a UTF-16 string of a component whose
/// encoding is `latin1+utf16`.
const UTF16_TAG: usize = 1 << 31;

impl HostSize for String {
    /// UTF-8 bytes for UTF-8 strings; a tagged UTF-16 string's code units transcode to at most
    /// three bytes each. (A component declaring plain `utf16` is charged one byte per code
    /// unit: at most three times under, still bounded.)
    fn host_bytes(len: usize) -> usize {
        if len & UTF16_TAG != 0 {
            (len & !UTF16_TAG).saturating_mul(3)
        } else {
            len
        }
    }
}

impl<T> HostSize for Vec<T> {
    fn host_bytes(len: usize) -> usize {
        len.saturating_mul(std::mem::size_of::<T>())
    }
}

/// The length half of a string's or list's (pointer, length) pair as the canonical ABI lays
/// it out.
fn pair_len_flat(src: &[ValRaw; 2]) -> usize {
    src[1].get_u32() as usize
}

/// The same from the pair's place in memory; a pair that is not there charges everything
/// (wasmtime refuses it anyway).
fn pair_len_in_memory(bytes: &[u8]) -> usize {
    bytes
        .get(4..8)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(usize::MAX, |b| u32::from_le_bytes(b) as usize)
}

// SAFETY: `Budgeted<T>` has exactly `T`'s canonical ABI (its `Lower`, `ABI` and type check
// are `T`'s), and its lift is `T`'s after a charge. `T` is a string or a list, whose flat
// form is a (pointer, length) pair: `[ValRaw; 2]`.
#[allow(unsafe_code)]
unsafe impl<T> ComponentType for Budgeted<T>
where
    T: ComponentType<Lower = [ValRaw; 2]>,
{
    type Lower = [ValRaw; 2];

    const ABI: CanonicalAbiInfo = T::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        T::typecheck(ty, types)
    }
}

// SAFETY: delegates to `T`'s lift, which validates the pointer and length against the
// guest's memory; the charge only reads the length.
#[allow(unsafe_code)]
unsafe impl<T> Lift for Budgeted<T>
where
    T: Lift + ComponentType<Lower = [ValRaw; 2]> + HostSize,
{
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        charge(T::host_bytes(pair_len_flat(src)))?;
        T::linear_lift_from_flat(cx, ty, src).map(Budgeted)
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        charge(T::host_bytes(pair_len_in_memory(bytes)))?;
        T::linear_lift_from_memory(cx, ty, bytes).map(Budgeted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_count_down_and_fail_past_the_budget_without_taking_it() {
        with_budget(100, || {
            assert!(charge(60).is_ok());
            let error = charge(41).unwrap_err();
            let over = error.downcast_ref::<OverBudget>().expect("a typed error");
            assert_eq!((over.left, over.bytes), (40, 41));
            assert!(charge(40).is_ok(), "a refused charge takes nothing");
            assert!(charge(1).is_err());
        });
        assert!(
            charge(usize::MAX).is_ok(),
            "no budget outside a budgeted call"
        );
    }

    #[test]
    fn the_outer_budget_comes_back_after_an_inner_call_and_after_a_panic() {
        with_budget(10, || {
            with_budget(1_000, || assert!(charge(500).is_ok()));
            assert!(charge(11).is_err(), "the outer budget is back");
            let caught = std::panic::catch_unwind(|| with_budget(1_000, || panic!("in a lift")));
            assert!(caught.is_err());
            assert!(charge(11).is_err(), "restored while unwinding too");
            assert!(charge(10).is_ok());
        });
    }

    #[test]
    fn a_utf16_string_is_charged_for_what_it_transcodes_to() {
        assert_eq!(String::host_bytes(10), 10);
        assert_eq!(String::host_bytes(UTF16_TAG | 10), 30);
        assert_eq!(Vec::<u32>::host_bytes(10), 40);
        assert_eq!(pair_len_in_memory(&[0, 0, 0, 0, 7, 0, 0, 0]), 7);
        assert_eq!(pair_len_in_memory(&[0, 0]), usize::MAX);
    }
}
