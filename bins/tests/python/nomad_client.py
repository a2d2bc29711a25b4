"""An outside client: python-nomad (PyPI) driving a `schedd -dev` agent
through the Nomad-compatible HTTP API, unchanged. Exits non-zero, with the
reason, at the first answer that is not what Nomad would give."""

import sys
import time

import nomad

JOB_HCL = """
job "pyjob" {
  datacenters = ["dc1"]
  type = "batch"
  group "g" {
    count = 1
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo from python; sleep 30"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"""


def check(condition, message):
    if not condition:
        print("FAILED: " + message, file=sys.stderr)
        sys.exit(1)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    client = nomad.Nomad(host=host, port=port, timeout=10)

    leader = client.status.leader.get_leader()
    check(leader.startswith("127.0.0.1:"), f"leader {leader!r}")

    job = client.jobs.parse(JOB_HCL)
    check(job["ID"] == "pyjob", f"parsed job {job!r}")

    plan = client.job.plan_job("pyjob", {"Job": job}, diff=True)
    check(plan["Diff"]["Type"] == "Added", f"plan diff {plan['Diff']!r}")
    check(plan["JobModifyIndex"] == 0, f"plan check index {plan['JobModifyIndex']!r}")
    updates = plan["Annotations"]["DesiredTGUpdates"]["g"]
    check(updates["Place"] == 1, f"plan annotations {updates!r}")

    registered = client.jobs.register_job({"Job": job})
    check(len(registered["EvalID"]) == 36, f"register answer {registered!r}")

    listed = [j["ID"] for j in client.jobs.get_jobs()]
    check(listed == ["pyjob"], f"job list {listed!r}")
    check("pyjob" in client.jobs, "`in` on the jobs endpoint")

    deadline = time.time() + 30
    while True:
        allocations = client.job.get_allocations("pyjob")
        if any(a["ClientStatus"] == "running" for a in allocations):
            break
        check(time.time() < deadline, f"no running allocation in 30 s: {allocations!r}")
        time.sleep(0.2)
    summary = client.job.get_summary("pyjob")
    check(summary["Summary"]["g"]["Running"] == 1, f"summary {summary!r}")

    nodes = client.nodes.get_nodes()
    check(len(nodes) == 1 and nodes[0]["Status"] == "ready", f"nodes {nodes!r}")

    try:
        client.job.get_job("no-such-job")
        check(False, "a missing job was found")
    except nomad.api.exceptions.URLNotFoundNomadException:
        pass

    stopped = client.job.deregister_job("pyjob", purge=True)
    check(len(stopped["EvalID"]) == 36, f"deregister answer {stopped!r}")
    check("pyjob" not in client.jobs, "the purged job is still listed")
    deadline = time.time() + 30
    while True:
        allocations = client.allocations.get_allocations()
        if all(a["ClientStatus"] != "running" for a in allocations):
            break
        check(time.time() < deadline, f"allocations still running after 30 s: {allocations!r}")
        time.sleep(0.2)
    print("python-nomad: parse, plan, register, list, status, stop: ok")


if __name__ == "__main__":
    main()
