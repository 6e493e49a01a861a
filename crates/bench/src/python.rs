//! Python's `multiprocessing` baselines, run from the small scripts in
//! `crates/bench/python/` with the host's `python3`, in the same invocation as the
//! figures they are compared with.

use std::path::PathBuf;

use serde_json::Value;

use super::Options;

pub struct Python {
    /// None: no interpreter; the reason goes in the rows.
    exe: Option<String>,
    dir: std::path::PathBuf,
    /// The venv's interpreter that has VizTracer, or why there is none.
    viztracer: Result<PathBuf, String>,
}

impl Python {
    pub async fn find(options: &Options) -> Python {
        let works = tokio::process::Command::new(&options.python)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await
            .map(|s| s.success())
            .unwrap_or(false);
        let viztracer = match works {
            true => super::viztracer::find(options).await,
            false => Err("VizTracer not available: python3 not found".to_owned()),
        };
        Python { exe: works.then(|| options.python.clone()), dir: options.python_dir.clone(), viztracer }
    }

    /// Why the VizTracer rows are empty, when they are.
    pub fn viztracer_missing(&self) -> Option<String> {
        self.viztracer.as_ref().err().cloned()
    }

    /// Why Python rows are empty, when they are.
    pub fn missing(&self) -> Option<String> {
        self.exe.is_none().then(|| "python3 not found".to_owned())
    }

    /// Runs `script` with `args`; its last stdout line is JSON.
    pub async fn run(&self, script: &str, args: &[String]) -> Result<Value, String> {
        let exe = self.exe.as_ref().ok_or("python3 not found")?;
        let mut command = tokio::process::Command::new(exe);
        command.arg(self.dir.join(script)).args(args);
        Self::output(command, script).await
    }

    /// Runs `script` under VizTracer (its defaults, output to a scratch file
    /// deleted afterwards): the same program, traced as a Python user would.
    pub async fn run_viztracer(&self, script: &str, args: &[String]) -> Result<Value, String> {
        let exe = self.viztracer.as_ref().map_err(Clone::clone)?;
        let trace = std::env::temp_dir().join(format!("forkline-bench-viztracer-{}.json", std::process::id()));
        let mut command = tokio::process::Command::new(exe);
        command.args(["-m", "viztracer", "--quiet", "-o"]).arg(&trace).arg(self.dir.join(script)).args(args);
        let out = Self::output(command, script).await;
        let _ = std::fs::remove_file(&trace);
        out
    }

    async fn output(mut command: tokio::process::Command, script: &str) -> Result<Value, String> {
        let output = command.kill_on_drop(true).output().await.map_err(|e| format!("{script}: {e}"))?;
        if !output.status.success() {
            return Err(format!("{script}: {}", String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("failed")));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(stdout.lines().last().unwrap_or("")).map_err(|e| format!("{script}: {e}"))
    }

    /// `Process.start()+join()` samples in µs with the given start method.
    pub async fn process_start_us(&self, method: &str, count: usize) -> Result<Vec<f64>, String> {
        let out = self.run("process_start.py", &[method.to_owned(), count.to_string()]).await?;
        Ok(out["ns"].as_array().map(|a| a.iter().filter_map(Value::as_f64).map(|ns| ns / 1e3).collect()).unwrap_or_default())
    }
}
