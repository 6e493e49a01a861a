//! The `cpu_count` demo reports the machine's CPUs and this process's share.

use serde_json::json;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread")]
async fn cpu_count_reports_machine_count_and_affinity_count() {
    bounded(async {
        let app = spawn_app().await;
        let run = app.run("cpu_count", json!({})).await;
        run.assert_ok();

        // SAFETY: sysconf only reads a setting.
        let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) } as u64;
        let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).unwrap();
        let allowed = (0..nix::sched::CpuSet::count()).filter(|&c| set.is_set(c).unwrap()).count() as u64;

        let data = &run.result()["data"];
        assert_eq!(data["cpu_count"], online);
        assert_eq!(data["affinity_count"], allowed);
        assert_eq!(run.prints()[0], format!("Number of cpu :  {online}"));
        assert_eq!(run.prints()[1], format!("CPUs this process may use :  {allowed}"));
        assert_no_process_left(&run);
    })
    .await;
}
