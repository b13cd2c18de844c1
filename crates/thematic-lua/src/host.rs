//! A script's sandbox on a thread of its own, watched from outside.
//!
//! The instruction hook stops Lua code that runs past its deadline, but a
//! single long call into C (a pathological `string.find` pattern) never
//! reaches the hook. Every call therefore runs on the script's thread while the
//! caller waits with a timeout; a call still running well after its deadline is
//! abandoned, with its thread, and the next call starts the script afresh.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::sandbox::{Deadline, Limits, Sandbox, ScriptError, ScriptFiles};

/// How long past its time limit a call may run before the watchdog gives up on it.
const WATCHDOG_GRACE: Duration = Duration::from_secs(1);

/// Work for the script's thread.
type Job = Box<dyn FnOnce(&Sandbox) + Send>;

/// How often the caller looks at the running call's deadline.
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// A running script thread: where to send work, and the deadline of the call
/// it is making.
struct Worker {
    jobs: mpsc::Sender<Job>,
    deadline: Arc<Deadline>,
}

/// What is run on a fresh sandbox before any call (installing the context).
pub(crate) type Setup = Arc<dyn Fn(&Sandbox) -> Result<(), ScriptError> + Send + Sync>;

pub(crate) struct ScriptHost {
    script: ScriptFiles,
    limits: Limits,
    setup: Setup,
    /// The thread running the script; `None` after the watchdog abandoned it.
    worker: Mutex<Option<Worker>>,
}

impl ScriptHost {
    /// Starts the script: loads it and runs `setup`, both under the limits.
    pub fn start(script: &ScriptFiles, limits: Limits, setup: Setup) -> Result<ScriptHost, ScriptError> {
        let worker = spawn(script.clone(), limits, setup.clone())?;
        Ok(ScriptHost {
            script: script.clone(),
            limits,
            setup,
            worker: Mutex::new(Some(worker)),
        })
    }

    pub fn name(&self) -> &str {
        &self.script.name
    }

    /// The messages the script logged since the last look (none if it cannot be reached).
    pub fn take_log(&self) -> Vec<String> {
        self.run(|sandbox| Ok(crate::api::take_log(&sandbox.lua)))
            .unwrap_or_default()
    }

    /// The error with the script's name in front.
    pub fn named(&self, error: ScriptError) -> ScriptError {
        ScriptError::new(format!("{}: {}", self.name(), error.message))
    }

    /// Runs `job`, one call into the script, on the script's thread.
    pub fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Sandbox) -> Result<T, ScriptError> + Send + 'static,
    ) -> Result<T, ScriptError> {
        self.run_calls(1, job)
    }

    /// Runs `job`, which makes up to `calls` calls into the script (each under
    /// the time limit), on the script's thread, and waits for it at most that
    /// many time limits and a grace period. Batching calls saves a round trip
    /// between threads for each.
    pub fn run_calls<T: Send + 'static>(
        &self,
        calls: usize,
        job: impl FnOnce(&Sandbox) -> Result<T, ScriptError> + Send + 'static,
    ) -> Result<T, ScriptError> {
        let mut worker = self.worker.lock().unwrap_or_else(|e| e.into_inner());
        let (jobs, deadline) = match worker.as_ref() {
            Some(running) => (running.jobs.clone(), running.deadline.clone()),
            None => {
                let started = spawn(self.script.clone(), self.limits, self.setup.clone())?;
                let handles = (started.jobs.clone(), started.deadline.clone());
                *worker = Some(started);
                handles
            }
        };
        let (done, result) = mpsc::channel();
        let sent = jobs.send(Box::new(move |sandbox| {
            let _ = done.send(job(sandbox));
        }));
        if sent.is_err() {
            *worker = None;
            return Err(ScriptError::new(format!(
                "{}: the script's thread has ended",
                self.name()
            )));
        }
        // Each call has its own deadline, which the hook enforces inside Lua;
        // the watchdog steps in only when a call runs on a grace period past it.
        let budget = self
            .limits
            .time
            .saturating_mul(calls.max(1).try_into().unwrap_or(u32::MAX));
        let started = Instant::now();
        let give_up = started.checked_add(budget.saturating_add(WATCHDOG_GRACE));
        let host_work_before = deadline.host_work_until(started);
        loop {
            match result.recv_timeout(WATCH_EVERY) {
                Ok(result) => return result,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    *worker = None;
                    return Err(ScriptError::new(format!(
                        "{}: the script's thread has ended",
                        self.name()
                    )));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    let overdue = deadline.overdue_by(now).is_some_and(|late| late > WATCHDOG_GRACE);
                    // The host's own work inside the calls (embedding) does not use up the budget.
                    let host_work = deadline.host_work_until(now).saturating_sub(host_work_before);
                    let spent = give_up.is_some_and(|at| now > at.checked_add(host_work).unwrap_or(at));
                    if overdue || spent {
                        // The thread is stuck in a call Lua cannot interrupt; it is
                        // left to finish on its own, and the next call starts afresh.
                        *worker = None;
                        return Err(ScriptError::new(format!(
                            "{}: time limit of {:?} exceeded (stopped by the watchdog: a single library call ran too long)",
                            self.name(),
                            self.limits.time
                        )));
                    }
                }
            }
        }
    }
}

/// Starts a thread holding a fresh sandbox with the script loaded.
fn spawn(script: ScriptFiles, limits: Limits, setup: Setup) -> Result<Worker, ScriptError> {
    let (jobs, queue) = mpsc::channel::<Job>();
    let (ready, loaded) = mpsc::channel();
    let shown = script.name.clone();
    std::thread::Builder::new()
        .name(format!("lua {shown}"))
        .spawn(move || {
            let sandbox = match Sandbox::new(&script, limits).and_then(|s| setup(&s).map(|()| s)) {
                Ok(sandbox) => sandbox,
                Err(e) => {
                    let _ = ready.send(Err(e));
                    return;
                }
            };
            let _ = ready.send(Ok(sandbox.deadline()));
            for job in queue {
                job(&sandbox);
            }
        })
        .map_err(|e| ScriptError::new(format!("{shown}: cannot start a thread for the script: {e}")))?;
    match loaded.recv_timeout(limits.time + WATCHDOG_GRACE) {
        Ok(Ok(deadline)) => Ok(Worker { jobs, deadline }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(ScriptError::new(format!(
            "{shown}: time limit of {:?} exceeded while loading (stopped by the watchdog)",
            limits.time
        ))),
    }
}
