//! `sched job status|history`: what the cluster knows about jobs, laid out
//! as Nomad's `nomad job status` and `nomad job history` print it.

use clap::Args;
use scheduler_core::model::api::{
    AllocListStub, JobListStub, JobSummary, JobVersionsResponse, TaskGroupSummary, job_status,
};
use scheduler_core::model::{Deployment, EvalStatus, Evaluation, Job};
use scheduler_core::plan::diff::render_diff;

use crate::alloc::format_alloc_list;
use crate::api_client::{
    ApiArgs, ApiClient, Context, Failure, Outcome, find_by_prefix, path_segment, print_list,
};
use crate::deployment::format_deployment_groups;
use crate::monitor::{format_alloc_metrics, serde_name};
use crate::output::{
    Columns, Style, format_kv, format_table, format_time, now_unix_nanos, say, short_id,
};

/// Flags of `job status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Print the API's JSON.
    #[arg(long)]
    json: bool,
    /// Full ids and dates instead of "2m ago".
    #[arg(long)]
    verbose: bool,
    /// The job (id or unique prefix); every job when omitted.
    #[arg(value_name = "ID")]
    id: Option<String>,
}

/// Flags of `job history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Print the API's JSON.
    #[arg(long)]
    json: bool,
    /// Show each version's changes from the one before.
    #[arg(short = 'p')]
    diffs: bool,
    /// The job (id or unique prefix).
    #[arg(value_name = "ID")]
    id: String,
}

/// The job list: `ID  Type  Priority  Status  Submit Date` (with a
/// Namespace column when listing every namespace).
pub fn format_job_list(jobs: &[&JobListStub], with_namespace: bool) -> String {
    Columns::<JobListStub>::new()
        .column("ID", |job| job.id.clone())
        .column_if(with_namespace, "Namespace", |job| job.namespace.clone())
        .column("Type", |job| {
            if job.periodic {
                format!("{}/periodic", job.job_type)
            } else if job.parameterized_job {
                format!("{}/parameterized", job.job_type)
            } else {
                job.job_type.clone()
            }
        })
        .column("Priority", |job| job.priority.to_string())
        .column("Status", |job| {
            if job.stop {
                format!("{} (stopped)", job.status)
            } else {
                job.status.clone()
            }
        })
        .column("Submit Date", |job| format_time(job.submit_time))
        .format(jobs.iter().copied())
}

/// Everything `job status ID` shows, fetched.
#[derive(Debug, Default)]
pub struct JobReport {
    /// The job.
    pub job: Job,
    /// Its allocation counts.
    pub summary: Option<JobSummary>,
    /// Its latest deployment.
    pub deployment: Option<Deployment>,
    /// Its allocations.
    pub allocs: Vec<AllocListStub>,
    /// Its evaluations (for placement failures).
    pub evals: Vec<Evaluation>,
}

/// One job the way Nomad's `job status ID` prints it.
pub fn format_job_report(report: &JobReport, verbose: bool, now: i64, style: Style) -> String {
    let job = &report.job;
    let status = if job.status.is_empty() {
        report
            .summary
            .as_ref()
            .map(|summary| job_status(job, summary).to_owned())
            .unwrap_or_default()
    } else {
        job.status.clone()
    };
    let mut sections = vec![format_kv(&[
        ("ID", job.id.as_str().to_owned()),
        ("Name", job.name.clone()),
        ("Submit Date", format_time(job.submit_time)),
        ("Type", job.job_type.to_string()),
        ("Priority", job.priority().to_string()),
        ("Datacenters", job.datacenters.join(",")),
        ("Namespace", job.namespace.clone()),
        ("Node Pool", job.node_pool.clone()),
        ("Status", status),
        ("Periodic", job.is_periodic().to_string()),
        ("Parameterized", job.is_parameterized().to_string()),
    ])];
    if let Some(summary) = &report.summary {
        sections.push(format!(
            "{}\n{}",
            style.bold("Summary"),
            format_summary(summary)
        ));
        if let Some(children) = &summary.children {
            sections.push(format!(
                "{}\n{}",
                style.bold("Children Job Summary"),
                format_table(
                    &["Pending", "Running", "Dead"],
                    &[vec![
                        children.pending.to_string(),
                        children.running.to_string(),
                        children.dead.to_string(),
                    ]],
                )
            ));
        }
    }
    if let Some(failures) = format_placement_failures(&report.evals) {
        sections.push(format!("{}\n{failures}", style.bold("Placement Failure")));
    }
    if let Some(deployment) = &report.deployment {
        let mut block = format!(
            "{}\n{}",
            style.bold("Latest Deployment"),
            format_kv(&[
                ("ID", short_id(deployment.id.as_str(), verbose).to_owned()),
                ("Status", serde_name(&deployment.status)),
                ("Description", deployment.status_description.clone()),
            ])
        );
        if !deployment.task_groups.is_empty() {
            block.push_str(&format!(
                "\n\n{}\n{}",
                style.bold("Deployed"),
                format_deployment_groups(deployment)
            ));
        }
        sections.push(block);
    }
    let mut allocs: Vec<&AllocListStub> = report.allocs.iter().collect();
    allocs.sort_by_key(|alloc| std::cmp::Reverse(alloc.create_index));
    sections.push(format!(
        "{}\n{}",
        style.bold("Allocations"),
        format_alloc_list(&allocs, verbose, now)
    ));
    sections.join("\n\n")
}

fn format_summary(summary: &JobSummary) -> String {
    Columns::<(&String, &TaskGroupSummary)>::new()
        .column("Task Group", |(group, _)| (*group).clone())
        .column("Queued", |(_, counts)| counts.queued.to_string())
        .column("Starting", |(_, counts)| counts.starting.to_string())
        .column("Running", |(_, counts)| counts.running.to_string())
        .column("Failed", |(_, counts)| counts.failed.to_string())
        .column("Complete", |(_, counts)| counts.complete.to_string())
        .column("Lost", |(_, counts)| counts.lost.to_string())
        .column("Unknown", |(_, counts)| counts.unknown.to_string())
        .format(&summary.summary)
}

/// The latest evaluation's placement failures, while a blocked
/// evaluation still waits to place them (Nomad's rule).
fn format_placement_failures(evals: &[Evaluation]) -> Option<String> {
    let waiting = evals.iter().any(|eval| eval.status == EvalStatus::Blocked);
    let latest = evals
        .iter()
        .filter(|eval| !eval.failed_tg_allocs.is_empty())
        .max_by_key(|eval| eval.create_index)?;
    if !waiting {
        return None;
    }
    let groups: Vec<String> = latest
        .failed_tg_allocs
        .iter()
        .map(|(group, metric)| {
            format!(
                "Task Group {group:?}:\n{}",
                format_alloc_metrics(metric, "  ")
            )
        })
        .collect();
    Some(groups.join("\n\n"))
}

/// The registered job `prefix` names (its id, or a unique prefix of one).
pub async fn find_job(client: &ApiClient, prefix: &str) -> Result<JobListStub, Failure> {
    find_by_prefix(client, prefix, |matches| format_job_list(matches, false)).await
}

/// `job status [ID]`.
pub async fn status(args: StatusArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let style = Style::for_stdout(args.json);
    let Some(prefix) = &args.id else {
        return print_list::<JobListStub>(
            &client,
            args.json,
            "querying jobs",
            "No running jobs",
            |all| {
                let many_namespaces = all.iter().any(|job| job.namespace != all[0].namespace);
                format_job_list(all, many_namespaces)
            },
        )
        .await;
    };
    let stub = find_job(&client, prefix).await?;
    let base = format!("/v1/job/{}", path_segment(&stub.id));
    let Some(job) = client
        .get_or_print_json::<Job>(&base, &[], args.json, "querying job")
        .await?
    else {
        return Ok(0);
    };
    let summary: Option<JobSummary> = client
        .get(&format!("{base}/summary"), &[])
        .await
        .context("querying job summary")?;
    let allocs: Vec<AllocListStub> = client
        .get(&format!("{base}/allocations"), &[])
        .await
        .context("querying job allocations")?;
    let evals: Vec<Evaluation> = client
        .get(&format!("{base}/evaluations"), &[])
        .await
        .context("querying job evaluations")?;
    let deployment: Option<Deployment> = if job.job_type.is_system_like() {
        None
    } else {
        client
            .get(&format!("{base}/deployment"), &[])
            .await
            .context("querying latest deployment")?
    };
    let report = JobReport {
        job,
        summary,
        deployment,
        allocs,
        evals,
    };
    say!(
        "{}",
        format_job_report(&report, args.verbose, now_unix_nanos(), style)
    );
    Ok(0)
}

/// One version in `job history`: its number, stability, date, tag, and
/// (with `-p`) its diff from the version before.
pub fn format_version(job: &Job, diff: Option<String>) -> String {
    let mut pairs = vec![
        ("Version", job.version.to_string()),
        ("Stable", job.stable.to_string()),
        ("Submit Date", format_time(job.submit_time)),
    ];
    if let Some(tag) = &job.version_tag {
        pairs.push(("Tag Name", tag.name.clone()));
        if !tag.description.is_empty() {
            pairs.push(("Tag Description", tag.description.clone()));
        }
    }
    if let Some(diff) = diff {
        pairs.push(("Diff", format!("\n{}", diff.trim())));
    }
    format_kv(&pairs)
}

/// `job history ID`.
pub async fn history(args: HistoryArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let stub = find_job(&client, &args.id).await?;
    let path = format!("/v1/job/{}/versions", path_segment(&stub.id));
    let query = [("diffs", args.diffs.to_string())];
    let Some(versions) = client
        .get_or_print_json::<JobVersionsResponse>(
            &path,
            &query,
            args.json,
            "retrieving job versions",
        )
        .await?
    else {
        return Ok(0);
    };
    let blocks: Vec<String> = versions
        .versions
        .iter()
        .enumerate()
        .map(|(position, job)| {
            // Diffs pair each version with the next older one; the oldest
            // has none.
            let diff = if args.diffs && position + 1 < versions.versions.len() {
                versions
                    .diffs
                    .get(position)
                    .map(|diff| render_diff(diff, false))
            } else {
                None
            };
            format_version(job, diff)
        })
        .collect();
    say!("{}", blocks.join("\n\n"));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::model::{AllocMetric, DeploymentStatus};

    const NANOS: i64 = 1_000_000_000;
    const NOW: i64 = 1_796_464_800 * NANOS;

    fn stub(id: &str, status: &str) -> JobListStub {
        JobListStub {
            id: id.to_owned(),
            namespace: "default".to_owned(),
            job_type: "service".to_owned(),
            priority: 50,
            status: status.to_owned(),
            submit_time: NOW,
            ..JobListStub::default()
        }
    }

    #[test]
    fn the_job_list_has_nomads_columns() {
        let mut stopped = stub("batchy", "dead");
        stopped.stop = true;
        stopped.job_type = "batch".to_owned();
        stopped.periodic = true;
        let running = stub("example", "running");
        assert_eq!(
            format_job_list(&[&running, &stopped], false),
            "ID       Type            Priority  Status          Submit Date\n\
             example  service         50        running         2026-12-05T10:00:00Z\n\
             batchy   batch/periodic  50        dead (stopped)  2026-12-05T10:00:00Z"
        );
    }

    fn report() -> JobReport {
        JobReport {
            job: Job {
                id: "example".into(),
                name: "example".to_owned(),
                namespace: "default".to_owned(),
                node_pool: "default".to_owned(),
                datacenters: vec!["*".to_owned()],
                status: "running".to_owned(),
                submit_time: NOW - 300 * NANOS,
                ..Job::default()
            },
            summary: Some(JobSummary {
                summary: [(
                    "cache".to_owned(),
                    TaskGroupSummary {
                        running: 1,
                        ..TaskGroupSummary::default()
                    },
                )]
                .into(),
                ..JobSummary::default()
            }),
            deployment: Some(Deployment {
                id: "02c9a8d6-0000".into(),
                status: DeploymentStatus::Successful,
                status_description: "Deployment completed successfully".to_owned(),
                ..Deployment::default()
            }),
            allocs: vec![AllocListStub {
                id: "0a9b2cfb-1111".to_owned(),
                node_id: "2be3a3f9-2222".to_owned(),
                task_group: "cache".to_owned(),
                desired_status: "run".to_owned(),
                client_status: "running".to_owned(),
                create_time: NOW - 120 * NANOS,
                modify_time: NOW - 50 * NANOS,
                ..AllocListStub::default()
            }],
            evals: Vec::new(),
        }
    }

    #[test]
    fn one_job_prints_nomads_sections() {
        let text = format_job_report(&report(), false, NOW, Style::plain());
        assert_eq!(
            text,
            "ID            = example\n\
             Name          = example\n\
             Submit Date   = 2026-12-05T09:55:00Z\n\
             Type          = service\n\
             Priority      = 50\n\
             Datacenters   = *\n\
             Namespace     = default\n\
             Node Pool     = default\n\
             Status        = running\n\
             Periodic      = false\n\
             Parameterized = false\n\
             \n\
             Summary\n\
             Task Group  Queued  Starting  Running  Failed  Complete  Lost  Unknown\n\
             cache       0       0         1        0       0         0     0\n\
             \n\
             Latest Deployment\n\
             ID          = 02c9a8d6\n\
             Status      = successful\n\
             Description = Deployment completed successfully\n\
             \n\
             Allocations\n\
             ID        Node ID   Task Group  Version  Desired  Status   Created  Modified\n\
             0a9b2cfb  2be3a3f9  cache       0        run      running  2m ago   50s ago"
        );
    }

    #[test]
    fn placement_failures_show_while_an_evaluation_is_blocked() {
        let failed = Evaluation {
            create_index: 5,
            status: EvalStatus::Complete,
            failed_tg_allocs: [(
                "cache".to_owned(),
                AllocMetric {
                    nodes_evaluated: 1,
                    nodes_exhausted: 1,
                    ..AllocMetric::default()
                },
            )]
            .into(),
            ..Evaluation::default()
        };
        assert_eq!(
            format_placement_failures(std::slice::from_ref(&failed)),
            None
        );
        let blocked = Evaluation {
            status: EvalStatus::Blocked,
            create_index: 6,
            ..Evaluation::default()
        };
        assert_eq!(
            format_placement_failures(&[failed, blocked]).as_deref(),
            Some("Task Group \"cache\":\n  * Resources exhausted on 1 nodes")
        );
    }

    #[test]
    fn a_version_shows_its_tag_and_diff() {
        let job = Job {
            version: 2,
            stable: true,
            submit_time: NOW,
            ..Job::default()
        };
        assert_eq!(
            format_version(&job, Some("+/- Job: \"web\"\n".to_owned())),
            "Version     = 2\nStable      = true\nSubmit Date = 2026-12-05T10:00:00Z\n\
             Diff        = \n+/- Job: \"web\""
        );
    }
}
