//! Plugins in child processes: the host's side ([`Pool`]) and the child's ([`serve`]).
//!
//! The child is the `thematic` binary started as `thematic plugin serve
//! LIBRARY`. Both directions carry frames: a little-endian `i32` tag, a
//! little-endian `u64` length, then that many bytes. The child loads the
//! library and says hello: tag 0 and the JSON of [`Hello`], or tag 1 and the
//! JSON of the [`PluginError`] that refused the library. Then for each request
//! frame on its stdin (tag 1 to code, 2 to group, the request's JSON) it
//! writes one reply frame on its stdout: the plugin function's status and its
//! buffer. What the plugin itself writes to stdout goes to stderr, so that it
//! cannot break a frame.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use thematic_plugin_api::{STATUS_ERROR, STATUS_OK};

use crate::in_process::Library;
use crate::{Call, PluginError, Reply};

/// Limits on an isolated plugin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IsolationLimits {
    /// Time loading the library, or one call, may take before the process is killed.
    pub time: Duration,
    /// Address space the process may take, in MiB (Unix); unlimited when `None`.
    pub memory_mib: Option<u64>,
}

impl Default for IsolationLimits {
    fn default() -> IsolationLimits {
        IsolationLimits {
            time: Duration::from_secs(60),
            memory_mib: None,
        }
    }
}

/// The child's first frame: the plugin it loaded.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Hello {
    pub name: String,
    pub kinds: u32,
}

/// A longer frame is a broken stream, not a message.
const MAX_FRAME: u64 = 1 << 30;

/// How long a child whose replies stopped may take to be seen to exit.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// Children running one plugin, started as calls need them: at most one per
/// thread calling at once.
pub(crate) struct Pool {
    executable: PathBuf,
    library: PathBuf,
    limits: IsolationLimits,
    idle: Mutex<Vec<Worker>>,
}

struct Worker {
    process: Arc<Mutex<Child>>,
    requests: BufWriter<ChildStdin>,
    replies: BufReader<ChildStdout>,
}

/// Why an exchange with a child ended without a reply.
enum Failure {
    Io(io::Error),
    TimedOut,
}

impl Pool {
    /// Starts the first child and reads what it loaded.
    pub fn start(executable: &Path, library: &Path, limits: IsolationLimits) -> Result<(Pool, Hello), PluginError> {
        let pool = Pool {
            executable: executable.to_path_buf(),
            library: library.to_path_buf(),
            limits,
            idle: Mutex::new(Vec::new()),
        };
        let (worker, hello) = pool.spawn(&library.display().to_string())?;
        lock(&pool.idle).push(worker);
        Ok((pool, hello))
    }

    fn spawn(&self, plugin: &str) -> Result<(Worker, Hello), PluginError> {
        let isolation_error = |message: String| PluginError::Isolation {
            plugin: plugin.to_string(),
            message,
        };
        let mut command = Command::new(&self.executable);
        command
            .args(["plugin", "serve"])
            .arg(&self.library)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(mib) = self.limits.memory_mib {
            command.arg("--memory-mib").arg(mib.to_string());
        }
        let mut child = command
            .spawn()
            .map_err(|e| isolation_error(format!("starting {}: {e}", self.executable.display())))?;
        let (Some(requests), Some(replies)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(isolation_error(
                "the child's stdin and stdout are not pipes".to_string(),
            ));
        };
        let mut worker = Worker {
            process: Arc::new(Mutex::new(child)),
            requests: BufWriter::new(requests),
            replies: BufReader::new(replies),
        };
        let hello = match worker.timed(self.limits.time, |w| read_frame(&mut w.replies)) {
            Ok((STATUS_OK, bytes)) => serde_json::from_slice::<Hello>(&bytes)
                .map_err(|e| isolation_error(format!("the child's hello is malformed: {e}")))?,
            Ok((_, bytes)) => {
                return Err(serde_json::from_slice::<PluginError>(&bytes)
                    .unwrap_or_else(|e| isolation_error(format!("the child's refusal is malformed: {e}"))))
            }
            Err(failure) => return Err(worker.failed(plugin, failure, self.limits)),
        };
        Ok((worker, hello))
    }

    /// One call in one child; a child that fails is not used again.
    pub fn call(&self, plugin: &str, call: Call, input: &[u8]) -> Result<Reply, PluginError> {
        let idle = lock(&self.idle).pop();
        let mut worker = match idle {
            Some(worker) => worker,
            None => self.spawn(plugin)?.0,
        };
        let tag = match call {
            Call::Code => 1,
            Call::Group => 2,
        };
        let exchanged = worker.timed(self.limits.time, |w| {
            write_frame(&mut w.requests, tag, input)?;
            read_frame(&mut w.replies)
        });
        match exchanged {
            Ok((status, bytes)) => {
                lock(&self.idle).push(worker);
                Ok(Reply { status, bytes })
            }
            Err(failure) => Err(worker.failed(plugin, failure, self.limits)),
        }
    }
}

impl Worker {
    /// Runs `exchange`, killing the child if it takes longer than `limit`.
    fn timed<T>(&mut self, limit: Duration, exchange: impl FnOnce(&mut Worker) -> io::Result<T>) -> Result<T, Failure> {
        let (finished, wait) = mpsc::channel::<()>();
        let process = Arc::clone(&self.process);
        let watchdog = std::thread::spawn(move || {
            let expired = matches!(wait.recv_timeout(limit), Err(mpsc::RecvTimeoutError::Timeout));
            if expired {
                // An error here means the child has already gone.
                let _ = lock(&process).kill();
            }
            expired
        });
        let result = exchange(self);
        drop(finished);
        if watchdog.join().unwrap_or(false) {
            return Err(Failure::TimedOut);
        }
        result.map_err(Failure::Io)
    }

    /// Makes sure the child has ended and says what happened to it.
    fn failed(&mut self, plugin: &str, failure: Failure, limits: IsolationLimits) -> PluginError {
        let plugin = plugin.to_string();
        let mut process = lock(&self.process);
        let how = match failure {
            Failure::TimedOut => format!(
                "did not answer within the time limit of {} s and was stopped",
                limits.time.as_secs_f64()
            ),
            Failure::Io(error) => match exit_status(&mut process) {
                Some(status) => {
                    let limited = limits
                        .memory_mib
                        .map_or(String::new(), |mib| format!(" (its memory limit is {mib} MiB)"));
                    format!("{}{limited}", describe(status))
                }
                None => {
                    return PluginError::Isolation {
                        plugin,
                        message: format!("the child broke the protocol ({error}) and was stopped"),
                    }
                }
            },
        };
        PluginError::Crashed { plugin, how }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let mut process = lock(&self.process);
        // Errors mean the child has already ended; it is reaped either way.
        let _ = process.kill();
        let _ = process.wait();
    }
}

/// The exit status of a child whose replies stopped; a child that is still
/// running after [`EXIT_GRACE`] is killed and `None` returned.
fn exit_status(process: &mut Child) -> Option<ExitStatus> {
    let deadline = Instant::now() + EXIT_GRACE;
    while Instant::now() < deadline {
        match process.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break,
        }
    }
    let _ = process.kill();
    let _ = process.wait();
    None
}

fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let meaning = match signal {
                4 => " (SIGILL, an illegal instruction)",
                6 => " (SIGABRT, the plugin aborted)",
                7 => " (SIGBUS, a bad memory access)",
                8 => " (SIGFPE, an arithmetic fault)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV, a segmentation fault)",
                _ => "",
            };
            return format!("was killed by signal {signal}{meaning}");
        }
    }
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => format!("ended: {status}"),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn write_frame(output: &mut impl Write, tag: i32, bytes: &[u8]) -> io::Result<()> {
    output.write_all(&tag.to_le_bytes())?;
    output.write_all(&(bytes.len() as u64).to_le_bytes())?;
    output.write_all(bytes)?;
    output.flush()
}

fn read_frame(input: &mut impl Read) -> io::Result<(i32, Vec<u8>)> {
    let mut tag = [0; 4];
    input.read_exact(&mut tag)?;
    let mut len = [0; 8];
    input.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes"),
        ));
    }
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(len as usize)
        .map_err(|e| io::Error::new(io::ErrorKind::OutOfMemory, format!("a frame of {len} bytes: {e}")))?;
    input.take(len).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok((i32::from_le_bytes(tag), bytes))
}

/// The child's side: loads `library` and answers requests on stdin until it
/// closes. `memory_mib` limits the process's address space (Unix).
pub fn serve(library: &Path, memory_mib: Option<u64>) -> io::Result<()> {
    let mut replies = BufWriter::new(protocol_output()?);
    if let Some(mib) = memory_mib {
        limit_memory(mib)?;
    }
    let library = match Library::load(library) {
        Ok(library) => library,
        Err(refusal) => return write_frame(&mut replies, STATUS_ERROR, &serde_json::to_vec(&refusal)?),
    };
    let hello = Hello {
        name: library.name.clone(),
        kinds: library.kinds,
    };
    write_frame(&mut replies, STATUS_OK, &serde_json::to_vec(&hello)?)?;
    let mut requests = BufReader::new(io::stdin().lock());
    loop {
        let (tag, input) = match read_frame(&mut requests) {
            Ok(frame) => frame,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        let call = match tag {
            1 => Call::Code,
            2 => Call::Group,
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unknown request {other}"),
                ))
            }
        };
        let reply = library.call(call, &input);
        write_frame(&mut replies, reply.status, &reply.bytes)?;
    }
}

/// Where frames go: the process's stdout, which from now on is a copy of
/// stderr for everything else.
#[cfg(unix)]
fn protocol_output() -> io::Result<std::fs::File> {
    use std::os::fd::AsFd;
    let protocol = io::stdout().as_fd().try_clone_to_owned()?;
    // SAFETY: dup2 on the process's own standard descriptors, before any plugin runs.
    if unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(std::fs::File::from(protocol))
}

#[cfg(not(unix))]
fn protocol_output() -> io::Result<io::Stdout> {
    Ok(io::stdout())
}

#[cfg(unix)]
fn limit_memory(mib: u64) -> io::Result<()> {
    let bytes = mib.saturating_mul(1024 * 1024) as libc::rlim_t;
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: setrlimit reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(unix))]
fn limit_memory(_mib: u64) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "memory limits on isolated plugins need Unix",
    ))
}
