pub mod check;
pub mod code;
pub mod export;
pub mod init;
pub mod plugin;
pub mod run;
pub mod try_script;
pub mod watch;
