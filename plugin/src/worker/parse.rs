//! MODEL THREAD helper: a file parsed on its own thread, so the model thread goes on answering.
//!
//! A style chosen before the background loader has brought it ([`super::styles`]) and a model or
//! network file loaded from the editor ([`super::commands`]) can take up to a second to parse
//! (Blend: 0.4–0.9 s). The model thread starts a [`Parse`], keeps answering with what it has, and
//! polls it at every step. Offline runs (the `Session`, the CLI, tests) parse in place instead, so
//! a run does not depend on the wall clock: see [`super::Brain::background`].

use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

#[cfg(test)]
thread_local! {
    /// Tests: on this thread, [`Parse::start`] returns only once the parse has ended, as if it
    /// took no time at all: the worst case for a step that must not take a parse it started.
    pub(super) static INSTANT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// One parse running on a helper thread, for one file or style named `label`.
pub(super) struct Parse<T: Send + 'static> {
    /// What is parsed (a style's name, a file's path), as asked.
    label: String,
    /// Where the helper sends the result, once.
    rx: Receiver<Result<T, String>>,
    /// What came on `rx`, once it came (until [`Parse::take`] takes it).
    result: Option<Result<T, String>>,
    /// Whether [`Parse::take`] has taken the result.
    taken: bool,
    /// Joined on drop, so no thread runs the plugin's code after the plugin is gone. Dropping a
    /// parse that has not ended waits for it (at most the rest of one parse).
    handle: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Drop for Parse<T> {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl<T: Send + 'static> Parse<T> {
    /// Runs `parse` on a new thread called `thread` (`Err`: no thread could be started; the
    /// caller then parses in place).
    pub(super) fn start(
        label: &str,
        thread: &str,
        parse: impl FnOnce() -> Result<T, String> + Send + 'static,
    ) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name(thread.into())
            .spawn(move || {
                let _ = tx.send(parse());
            })?;
        let parse = Self {
            label: label.to_string(),
            rx,
            result: None,
            taken: false,
            handle: Some(handle),
        };
        #[cfg(test)]
        let parse = {
            let mut parse = parse;
            if INSTANT.with(std::cell::Cell::get) {
                parse.done(Duration::from_secs(30));
            }
            parse
        };
        Ok(parse)
    }

    /// What is parsed.
    pub(super) fn label(&self) -> &str {
        &self.label
    }

    /// Whether the result has come (taken from the channel if so), waiting at most `wait`.
    pub(super) fn done(&mut self, wait: Duration) -> bool {
        if self.taken {
            return true;
        }
        if self.result.is_none() {
            let got = if wait.is_zero() {
                self.rx
                    .try_recv()
                    .map_err(|e| e == TryRecvError::Disconnected)
            } else {
                self.rx
                    .recv_timeout(wait)
                    .map_err(|e| e == RecvTimeoutError::Disconnected)
            };
            self.result = match got {
                Ok(r) => Some(r),
                // The thread ended without sending: it panicked.
                Err(true) => Some(Err("the parse stopped without a result".into())),
                Err(false) => None,
            };
        }
        self.result.is_some()
    }

    /// The result, if it has come; `None` while the parse runs, and once taken.
    pub(super) fn take(&mut self) -> Option<Result<T, String>> {
        if self.done(Duration::ZERO) && !self.taken {
            self.taken = true;
            self.result.take()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parse_gives_its_result_once_and_a_panicking_one_says_so() {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let mut p = Parse::start("x", "continuo-test", move || {
            let _ = wait.recv();
            Ok(7)
        })
        .unwrap();
        assert_eq!(p.label(), "x");
        assert!(p.take().is_none(), "not before the parse ends");
        go.send(()).unwrap();
        assert!(p.done(Duration::from_secs(10)));
        assert_eq!(p.take(), Some(Ok(7)));
        assert_eq!(p.take(), None, "taken once");

        let mut bad: Parse<u8> = Parse::start("y", "continuo-test", || panic!("broken")).unwrap();
        assert!(bad.done(Duration::from_secs(10)));
        assert!(matches!(bad.take(), Some(Err(e)) if e.contains("without a result")));
    }
}
