//! The [`Processor`] trait and the glue that exports it as a component.

use crate::{Batch, Edit, Edits, Interest, ProcessorError, SpanFields};

/// A span processor.
///
/// The host creates one instance per worker: `init` runs once, then `process` runs for every
/// batch, on one batch at a time. Export the type with [`export_processor!`](crate::export_processor).
pub trait Processor: Sized + 'static {
    /// Builds the processor from its config (JSON text; see [`parse_config`](crate::parse_config)).
    /// An error refuses the plugin, and the host reports the message.
    fn init(config: &str) -> Result<Self, String>;

    /// What the processor reads. Called once, right after `init`.
    fn interest(&self) -> Interest;

    /// Handles one batch, recording changes in `edits`. An error sends the whole batch down the
    /// processor's `on_error` path (`pass` it on unchanged, or `drop` it).
    fn process(&mut self, batch: &Batch, edits: &mut Edits) -> Result<(), String>;
}

/// An exported processor and how its batches arrive.
#[doc(hidden)]
pub struct GuestState<P> {
    processor: P,
    /// Whether the SDK asked for the packed layout on the processor's behalf, and so turns
    /// each batch back into records before the processor sees it.
    unpack: bool,
}

#[doc(hidden)]
pub fn init_guest<P: Processor>(
    state: &mut Option<GuestState<P>>,
    config: &str,
) -> Result<Interest, String> {
    let processor = P::init(config)?;
    let mut interest = processor.interest();
    // Records cross the boundary faster packed and unpacked here (see `packed`); a processor
    // that asked for the packed layout itself reads the rows.
    let unpack = interest.span_fields & SpanFields::PACKED == SpanFields::empty();
    interest.span_fields = interest.span_fields | SpanFields::PACKED;
    *state = Some(GuestState { processor, unpack });
    Ok(interest)
}

#[doc(hidden)]
pub fn process_guest<P: Processor>(
    state: &mut Option<GuestState<P>>,
    mut batch: Batch,
) -> Result<Vec<Edit>, ProcessorError> {
    let state = state.as_mut().ok_or_else(|| ProcessorError {
        message: "process called before init".to_owned(),
    })?;
    if state.unpack {
        crate::packed::unpack(&mut batch).map_err(|message| ProcessorError { message })?;
    }
    let mut edits = Edits::new();
    state
        .processor
        .process(&batch, &mut edits)
        .map_err(|message| ProcessorError { message })?;
    Ok(edits.take())
}

/// Exports a [`Processor`] type as the plugin's `span-processor`.
///
/// Use it once, at the root of a `cdylib` crate built for `wasm32-wasip2`:
///
/// ```
/// use weft_sdk::{Batch, Edits, Interest, Processor};
///
/// struct MyProcessor;
///
/// impl Processor for MyProcessor {
///     fn init(_config: &str) -> Result<Self, String> { Ok(MyProcessor) }
///     fn interest(&self) -> Interest { Interest::nothing() }
///     fn process(&mut self, _batch: &Batch, _edits: &mut Edits) -> Result<(), String> { Ok(()) }
/// }
///
/// weft_sdk::export_processor!(MyProcessor);
/// ```
#[macro_export]
macro_rules! export_processor {
    ($ty:ty) => {
        const _: () = {
            struct WeftGuest;

            ::std::thread_local! {
                static STATE: ::std::cell::RefCell<
                    ::std::option::Option<$crate::__private::GuestState<$ty>>,
                > =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }

            impl $crate::bindings::exports::weft::plugin::span_processor::Guest for WeftGuest {
                fn init(
                    config: ::std::string::String,
                ) -> ::std::result::Result<$crate::Interest, ::std::string::String> {
                    STATE.with(|state| {
                        $crate::__private::init_guest::<$ty>(&mut state.borrow_mut(), &config)
                    })
                }

                fn process(
                    batch: $crate::Batch,
                ) -> ::std::result::Result<::std::vec::Vec<$crate::Edit>, $crate::ProcessorError>
                {
                    STATE.with(|state| {
                        $crate::__private::process_guest::<$ty>(&mut state.borrow_mut(), batch)
                    })
                }
            }

            // Only a wasm build exports the component's functions; native builds (unit tests
            // of the processor logic) link as ordinary libraries.
            #[cfg(target_arch = "wasm32")]
    $crate::bindings::export_bindings!(WeftGuest with_types_in $crate::bindings);
        };
    };
}
