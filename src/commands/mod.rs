pub mod check;
pub mod code;
pub mod export;
pub mod init;
pub mod run;
pub mod try_script;
