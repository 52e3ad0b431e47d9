//! A mock provider's answer to one call once the simulator's rules had
//! their say: what the mock itself answers (perhaps with a forced outcome),
//! an HTTP error answer, or a broken connection; with the rule that shaped
//! it. Each provider renders it in its own shape: over HTTP (its handlers),
//! into the request journal, and to an in-process caller.

use super::rules::Fault;

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
