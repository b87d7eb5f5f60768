//! `testkit/kafka/python/group_members.py` driven by a test: at each pause
//! (`--pause`, `--pause-in-rebalance`) the test acts on the cluster (stops
//! or kills the group's coordinator), then lets the script go on.

use std::io::{BufRead, BufReader, Lines, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// What the script reports next.
pub enum Step {
    /// A pause: the event names the phase and the coordinator.
    Pause(serde_json::Value),
    /// The script passed; its summary.
    Done(serde_json::Value),
}

pub struct PausingScript {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    stdin: ChildStdin,
}

impl PausingScript {
    pub fn start(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run group_members.py");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let stdin = child.stdin.take().unwrap();
        Self {
            child,
            lines,
            stdin,
        }
    }

    /// The next pause, or the summary once the script has exited; fails
    /// the test if the script did not pass.
    pub fn next(&mut self) -> Step {
        while let Some(line) = tokio::task::block_in_place(|| self.lines.next()) {
            let line = line.unwrap();
            eprintln!("{line}");
            let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if event.get("phase").is_some() {
                return Step::Pause(event);
            }
            if event.get("ok").is_some() {
                let status = tokio::task::block_in_place(|| self.child.wait()).unwrap();
                assert!(status.success() && event["ok"] == true, "{event}");
                return Step::Done(event);
            }
        }
        panic!("group_members.py exited without a summary");
    }

    /// Lets the script carry on after a pause.
    pub fn go(&mut self) {
        writeln!(self.stdin, "go").unwrap();
    }
}

impl Drop for PausingScript {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
