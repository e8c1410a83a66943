//! Core errors as JavaScript errors, made here, on the JS thread: `code`
//! (`KLED_NOT_FOUND`, ...), `hint` (the core's next step in this package's
//! terms, or null; the message ends with it too) and `cause` (the core's
//! cause) are properties the addon sets. index.js only picks the class by
//! `code`; nothing is parsed out of message text.

use napi::bindgen_prelude::*;
use std::future::Future;

/// The `code` of each core error kind.
pub fn code_of(kind: kled::ErrorKind) -> String {
    format!("KLED_{}", kind.as_str().to_ascii_uppercase())
}

/// The core's hint as the method to call: the one place the Node package
/// spells out a next step.
pub fn render_hint(hint: &kled::Hint) -> String {
    use kled::Hint;
    match hint {
        Hint::StartTerminal { name } => format!("start it with (await manager.getTerminal({name:?})).start()"),
        Hint::RemoveTerminal { name } => format!("manager.removeTerminal({name:?}) cleans up the record"),
        Hint::ListTerminals => "manager.listTerminals() shows the terminals that exist".into(),
        Hint::ListProviders => "manager.providers() lists what works here".into(),
        Hint::RestartNeovim { name } => format!("(await manager.getTerminal({name:?})).start() starts a new one"),
        Hint::SetOption { option, value } => format!("set it with options: {{ {option}: {value:?} }}"),
        Hint::OtherBulkPrefix => "pass another prefix or remove them".into(),
        other => other.to_string(),
    }
}

pub fn invalid(message: impl Into<String>) -> kled::Error {
    kled::Error::new(kled::ErrorKind::InvalidArgument, message)
}

/// A core error as a JS `Error` with `code`, `hint` and `cause` set.
fn build<'env>(env: &'env Env, e: &kled::Error) -> Result<Object<'env>> {
    let hint = e.hint().map(render_hint);
    let message = kled::with_hint(e.message(), hint.as_deref());
    let mut error = env.create_error(napi::Error::from_reason(message))?;
    error.set_named_property("code", code_of(e.kind()))?;
    error.set_named_property("hint", hint)?;
    if let Some(source) = std::error::Error::source(e) {
        let cause = match (source.downcast_ref::<kled::Error>(), source.downcast_ref::<std::io::Error>()) {
            (Some(inner), _) => build(env, inner)?,
            (None, Some(io)) => {
                let mut cause = env.create_error(napi::Error::from_reason(io.to_string()))?;
                cause.set_named_property("errno", io.raw_os_error())?;
                cause
            }
            (None, None) => env.create_error(napi::Error::from_reason(source.to_string()))?,
        };
        error.set_named_property("cause", cause)?;
    }
    Ok(error)
}

/// A core error as the napi error that throws (or rejects with) it.
pub fn js_error(env: &Env, e: kled::Error) -> napi::Error {
    match build(env, &e) {
        Ok(error) => napi::Error::from(error.to_unknown()),
        Err(failed) => failed,
    }
}

/// A sync method's core result, thrown as a KledError-shaped error.
pub fn sync<T>(env: &Env, r: kled::Result<T>) -> Result<T> {
    r.map_err(|e| js_error(env, e))
}

/// Runs `fut` on the addon's tokio runtime and settles a Promise on the JS
/// thread: its value, or a rejection with the error `js_error` makes (which
/// needs the JS thread, hence the callback instead of an `async fn`).
pub fn promise<'env, T, F>(env: &'env Env, fut: F) -> Result<PromiseRaw<'env, T>>
where
    T: 'static + Send + ToNapiValue,
    F: 'static + Send + Future<Output = kled::Result<T>>,
{
    env.spawn_future_with_callback(async move { Ok(fut.await) }, |env, outcome: kled::Result<T>| {
        outcome.map_err(|e| js_error(env, e))
    })
}
