//! A mock provider's answer to one call once the simulator's rules had
//! their say: what the mock itself answers (perhaps with a forced outcome),
//! an HTTP error answer, or a broken connection; with the rule that shaped
//! it. Each provider renders it in its own shape: over HTTP (its handlers),
//! into the request journal, and to an in-process caller.

use super::rules::{Fault, Respond};

/// The code of a provider's own failure, the same at WeChat Pay and the SMS gateway.
const SYSTEM_ERROR: &str = "SYSTEM_ERROR";

/// A call's answer, and the rule (or magic amount) that shaped it, if one did.
#[derive(Debug)]
pub struct Ruled<T> {
    pub rule: Option<String>,
    pub answer: Answer<T>,
}

impl<T> Ruled<T> {
    /// The mock's own answer, no rule involved.
    pub fn unruled(value: T) -> Ruled<T> {
        Ruled { rule: None, answer: Answer::Normal(value) }
    }
}

/// What the caller gets.
#[derive(Debug)]
pub enum Answer<T> {
    /// What the mock itself answers (perhaps with a forced outcome).
    Normal(T),
    /// An HTTP error answer: the status, a `code` and a `message`.
    Error { status: u16, code: String, message: String },
    /// No answer: the connection breaks this way.
    Broken(Fault),
}

impl<T> Answer<T> {
    /// A rule's answer that needs no mock behind it: its HTTP error, its
    /// broken connection, or else the provider's own failure (a 500
    /// `SYSTEM_ERROR` with `message`). For providers whose every other
    /// answer is a failure: outcomes match their calls only where
    /// `NewRule::check` allows them, and callers answer `AsUsual` first.
    pub fn forced_failure(respond: Respond, message: &str) -> Answer<T> {
        match respond {
            Respond::HttpError { status, code, message } => Answer::Error { status, code, message },
            Respond::Fault { fault } => Answer::Broken(fault),
            Respond::SystemError
            | Respond::ApiError { .. }
            | Respond::Fail { .. }
            | Respond::AlipayFail { .. }
            | Respond::Processing
            | Respond::AsUsual => {
                Answer::Error { status: 500, code: SYSTEM_ERROR.to_owned(), message: message.to_owned() }
            }
        }
    }
}
