//! Plugins in child processes: the host's side ([`Pool`]) and the child's ([`serve`]).
//!
//! The child is the `thematic` binary started as `thematic plugin serve
//! LIBRARY`. Both directions carry frames: a little-endian `i32` tag, a
//! little-endian `u64` length, then that many bytes. The child loads the
//! library and says hello: tag 0 and the JSON of [`Hello`] (with the
//! protocol's version), or tag 1 and the JSON of the [`PluginError`] that
//! refused the library. Then for each request frame on its stdin (tag 1 to code, 2 to group, the request's JSON) it
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

/// The version of this protocol between thematic and its plugin children,
/// sent first in the hello: a child of another thematic build (the binary
/// replaced while a watch runs) is refused rather than misread.
const PROTOCOL_VERSION: u32 = 1;

/// The child's first frame: the plugin it loaded.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Hello {
    pub protocol: u32,
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
    /// Taken, and so closed, to tell the child to finish.
    requests: Option<BufWriter<ChildStdin>>,
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
        command.args(["plugin", "serve"]);
        if let Some(mib) = self.limits.memory_mib {
            command.arg("--memory-mib").arg(mib.to_string());
        }
        command
            .arg("--")
            .arg(&self.library)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // A group of its own, so that the time limit ends whatever the plugin
        // started too: a forked process would otherwise hold the replies open.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
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
            requests: Some(BufWriter::new(requests)),
            replies: BufReader::new(replies),
        };
        let hello = match worker.timed(self.limits.time, |w| read_frame(&mut w.replies)) {
            Ok((STATUS_OK, bytes)) => match serde_json::from_slice::<Hello>(&bytes) {
                Ok(hello) if hello.protocol == PROTOCOL_VERSION => hello,
                Ok(hello) => {
                    return Err(isolation_error(format!(
                        "{} speaks plugin protocol {}, this thematic {PROTOCOL_VERSION}; was it replaced by another version?",
                        self.executable.display(),
                        hello.protocol
                    )))
                }
                Err(e) => return Err(isolation_error(format!("the child's hello is malformed: {e}"))),
            },
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
        if input.len() as u64 > MAX_FRAME {
            return Err(PluginError::Isolation {
                plugin: plugin.to_string(),
                message: format!(
                    "a request of {} bytes is more than the {MAX_FRAME} a plugin process takes",
                    input.len()
                ),
            });
        }
        let idle = lock(&self.idle).pop();
        let mut worker = match idle {
            Some(worker) => worker,
            None => self.spawn(plugin)?.0,
        };
        let exchanged = worker.timed(self.limits.time, |w| {
            let requests = w.requests.as_mut().ok_or(io::ErrorKind::BrokenPipe)?;
            write_frame(requests, call.tag(), input)?;
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
                kill(&mut lock(&process));
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
            Failure::Io(error) => match ended(&mut process, &error) {
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
    /// Closes the child's stdin, so that it finishes as a plugin expects
    /// (its buffers flushed), and kills it only if it does not.
    fn drop(&mut self) {
        drop(self.requests.take());
        wait_or_kill(&mut lock(&self.process), FINISH_GRACE);
    }
}

/// How long an idle child may take to finish once its stdin is closed.
const FINISH_GRACE: Duration = Duration::from_millis(500);

/// The exit status of a child whose replies stopped. A child that broke the
/// protocol, or is still running after [`EXIT_GRACE`], is killed and `None`
/// returned.
fn ended(process: &mut Child, error: &io::Error) -> Option<ExitStatus> {
    let stream_ended = matches!(error.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe);
    if !stream_ended {
        wait_or_kill(process, Duration::ZERO);
        return None;
    }
    wait_or_kill(process, EXIT_GRACE)
}

/// Waits up to `grace` for the child to end, then kills it; the status when
/// it ended by itself.
fn wait_or_kill(process: &mut Child, grace: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + grace;
    loop {
        match process.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => break,
        }
    }
    kill(process);
    // Reaps it; an error means it was reaped already.
    let _ = process.wait();
    None
}

/// Kills the child and, on Unix, every process of its group.
fn kill(process: &mut Child) {
    #[cfg(unix)]
    if let Ok(group) = libc::pid_t::try_from(process.id()) {
        // SAFETY: kill(2) on the group the child leads (it was started as a
        // group of its own, and is not reaped yet, so its id is not reused).
        unsafe { libc::kill(-group, libc::SIGKILL) };
    }
    // An error means the child has already ended.
    let _ = process.kill();
}

fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let meaning = match signal {
                libc::SIGILL => " (SIGILL, an illegal instruction)",
                libc::SIGABRT => " (SIGABRT, the plugin aborted)",
                libc::SIGBUS => " (SIGBUS, a bad memory access)",
                libc::SIGFPE => " (SIGFPE, an arithmetic fault)",
                libc::SIGKILL => " (SIGKILL)",
                libc::SIGSEGV => " (SIGSEGV, a segmentation fault)",
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
    let (tag, len) = read_header(input)?;
    Ok((tag, read_body(input, len)?))
}

/// A frame's tag and the length of its bytes.
fn read_header(input: &mut impl Read) -> io::Result<(i32, u64)> {
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
    Ok((i32::from_le_bytes(tag), len))
}

/// Up to this much of a frame is reserved at once: enough for a large
/// transcript without reallocation, not so much that a false length costs.
const RESERVED_AT_ONCE: u64 = 16 << 20;

fn read_body(input: &mut impl Read, len: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(len.min(RESERVED_AT_ONCE) as usize);
    input.take(len).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(bytes)
}

/// How a child's service ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// Thematic closed stdin after its last request.
    Finished,
    /// The library was refused; thematic has been told why.
    Refused,
}

/// The child's side: loads `library` and answers requests on stdin until it
/// closes. `memory_mib` limits the process's address space (Unix). Refuses
/// to talk to a terminal: only thematic speaks this protocol.
pub fn serve(library: &Path, memory_mib: Option<u64>) -> io::Result<Served> {
    use std::io::IsTerminal;
    if io::stdin().is_terminal() || io::stdout().is_terminal() {
        return Err(io::Error::other(
            "thematic starts `plugin serve` itself for plugins with isolation = \"process\"; \
             to try a plugin in a process of its own, run `thematic plugin check PATH --isolated`",
        ));
    }
    let mut replies = BufWriter::new(protocol_output()?);
    if let Some(mib) = memory_mib {
        limit_memory(mib)?;
    }
    let library = match Library::load(library) {
        Ok(library) => library,
        Err(refusal) => {
            write_frame(&mut replies, STATUS_ERROR, &serde_json::to_vec(&refusal)?)?;
            return Ok(Served::Refused);
        }
    };
    let hello = Hello {
        protocol: PROTOCOL_VERSION,
        name: library.name.clone(),
        kinds: library.kinds,
    };
    write_frame(&mut replies, STATUS_OK, &serde_json::to_vec(&hello)?)?;
    let mut requests = BufReader::new(io::stdin().lock());
    loop {
        let (tag, len) = match read_header(&mut requests) {
            Ok(header) => header,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Served::Finished),
            Err(e) => return Err(e),
        };
        let Some(call) = Call::from_tag(tag) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unknown request {tag}"),
            ));
        };
        let input = read_body(&mut requests, len)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut wire = Vec::new();
        write_frame(&mut wire, 2, b"{\"themes\":[]}").unwrap();
        assert_eq!(wire.len(), 4 + 8 + 13);
        assert_eq!(
            read_frame(&mut wire.as_slice()).unwrap(),
            (2, b"{\"themes\":[]}".to_vec())
        );
    }

    #[test]
    fn a_cut_or_oversized_frame_is_an_error_not_an_allocation() {
        let mut wire = Vec::new();
        write_frame(&mut wire, 0, b"0123456789").unwrap();
        wire.truncate(wire.len() - 3);
        let cut = read_frame(&mut wire.as_slice()).unwrap_err();
        assert_eq!(cut.kind(), io::ErrorKind::UnexpectedEof);
        let mut huge = 0i32.to_le_bytes().to_vec();
        huge.extend(u64::MAX.to_le_bytes());
        let oversized = read_frame(&mut huge.as_slice()).unwrap_err();
        assert_eq!(oversized.kind(), io::ErrorKind::InvalidData);
    }
}
