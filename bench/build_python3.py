"""python3 builds on the real node: a Job applied until Ready, split into its phases.

Run (as root, after ``racetrack dev prereqs``): ``python bench/build_python3.py [--runs N]``

A python3 job with one requirement (a wheel in the dev wheel folder), built from the dev git
server by the operator as ``racetrack dev up`` runs it, on a real node:

- first build: nothing of the job cached yet (the requirement is installed by pip, the
  builder image is pulled by the node);
- warm build, median of N: a new version of the same job, so the requirements layer is
  found in the registry and the base layers are on the node. Split into clone,
  dependencies, layers, push (the builder's own timings), build pod overhead (starting
  containers, the kubelet's status, the operator seeing it) and rollout (built to Ready);
- baseline, same run: the very image the warm build made, applied as a prebuilt
  ``spec.image`` Job, apply to Ready. The difference is what building costs;
- no-change re-apply (with a redeploy): whether anything was built again (it must not);
- code-only change: a new commit and ``racetrack.io/rebuild-at``, apply to Ready, and
  whether the requirements layer was reused (the same layer digest in both images).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kubernetes import client as k8s

from racetrack_devcluster import addons
from racetrack_devcluster.build import BinaryCache
from racetrack_devcluster.launcher import ClusterOptions, LocalCluster
from racetrack_devcluster.realnode import assets, detect
from racetrack_devcluster.realnode.wheels import write_wheel
from racetrack_images.registry import Reference, Registry

REPO = Path(__file__).resolve().parents[1]
JOBS = REPO / "tests" / "integration" / "realnode" / "jobs"
GREETING = {"racetrack_test_greeting.py": "def greet(name):\n    return f'Hello, {name}!'\n"}
EXTRA = {"entrypoint_path": "entrypoint.py", "requirements_path": "requirements.txt"}
NAMESPACE = "default"


class Bench:
    def __init__(self, cluster: LocalCluster, work: Path) -> None:
        assert cluster.real is not None
        self.cluster = cluster
        self.real = cluster.real
        self.work = work
        self.api = k8s.CustomObjectsApi(cluster.api_client())
        self.batch = k8s.BatchV1Api(cluster.api_client())
        #: Build inputs a Job's next build must differ from (a rebuild of the same Job).
        self.stale: dict[str, str] = {}

    def git(self, tree: Path, *args: str) -> str:
        env = {**os.environ, "GIT_SSL_CAINFO": str(self.real.ca_file)}
        return subprocess.run(
            ["git", "-c", "user.email=b@example.org", "-c", "user.name=b", *args],
            cwd=tree, env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip

    def push(self, tree: Path, message: str) -> str:
        self.git(tree, "add", ".")
        self.git(tree, "commit", "-qm", message)
        self.git(tree, "push", "-q", f"{self.real.git_url}/greeter.git", "main")
        return self.git(tree, "rev-parse", "HEAD")

    def job(self, name: str) -> dict[str, Any]:
        found = self.api.get_namespaced_custom_object(
            "racetrack.io", "v1alpha1", NAMESPACE, "jobs", name
        )
        assert isinstance(found, dict)
        return found

    def apply(
        self,
        name: str,
        version: str,
        source: dict[str, Any],
        annotations: dict[str, str],
        family: str = "greeter",
    ) -> None:
        manifest = {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "Job",
            "metadata": {"name": name, "annotations": annotations},
            "spec": {"name": family, "version": version, "ownerEmail": "b@example.org",
                     "jobtype": "python3:1.0.0", "jobtypeExtra": EXTRA, **source},
        }  # fmt: skip
        self.cluster.kubectl("apply", "-f", "-", input=json.dumps(manifest))

    def until(self, name: str, condition: str, since: float, timeout: float = 300) -> float:
        """Seconds from ``since`` until the Job's condition is True for its generation."""
        while True:
            job = self.job(name)
            generation = job["metadata"].get("generation")
            for cond in job.get("status", {}).get("conditions") or []:
                if (
                    cond["type"] == condition
                    and cond["status"] == "True"
                    and cond.get("observedGeneration") == generation
                    and not self.outdated(name, job)
                ):
                    return time.monotonic() - since
            if time.monotonic() - since > timeout:
                raise RuntimeError(
                    f"{name}: {condition} not True after {timeout} s: {job.get('status')}"
                )
            time.sleep(0.05)

    def outdated(self, name: str, job: dict[str, Any]) -> bool:
        """Whether the Job's build is the one before the rebuild being waited for."""
        stale = self.stale.get(name)
        return stale is not None and job["status"].get("build", {}).get("inputs") == stale

    def build_jobs(self, name: str) -> list[str]:
        listed = self.batch.list_namespaced_job(
            NAMESPACE, label_selector=f"racetrack.io/build-of={name}"
        )
        return sorted(str(job.metadata.name) for job in listed.items if job.metadata)

    def deps_layer(self, image: str) -> str:
        ref = Reference.parse(image)
        registry = Registry(self.real.registry_url)
        found = registry.manifest(ref.repository, ref.reference)
        assert found is not None
        layers = json.loads(found[1])["layers"]
        return str(layers[-2]["digest"])


def built_run(bench: Bench, name: str, version: str, source: dict[str, Any],
              annotations: dict[str, str] | None = None) -> dict[str, float]:  # fmt: skip
    started = time.monotonic()
    bench.apply(name, version, source, annotations or {})
    built = bench.until(name, "Built", started)
    ready = bench.until(name, "Ready", started)
    durations = bench.job(name)["status"]["build"]["durations"]
    steps = {
        key: float(durations.get(key, 0.0)) for key in ("clone", "dependencies", "layers", "push")
    }
    return {
        **steps,
        "overhead": built - sum(steps.values()),
        "rollout": ready - built,
        "total": ready,
    }


def prebuilt_run(bench: Bench, name: str, version: str, image: str) -> float:
    started = time.monotonic()
    bench.apply(name, version, {"image": image}, {}, family="prebuilt")
    return bench.until(name, "Ready", started)


def spread(values: list[float]) -> str:
    median = statistics.median(values)
    return f"{median:6.2f} s   (min {min(values):.2f}, max {max(values):.2f})"


def show(title: str, runs: list[dict[str, float]]) -> None:
    print(f"\n{title}")
    for key in ("clone", "dependencies", "layers", "push", "overhead", "rollout", "total"):
        values = [run[key] for run in runs]
        print(f"  {key:<14} {spread(values)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    support = detect.check()
    if not support.ok:
        print(f"Real nodes are not possible here: {support.reason}")
        return 1
    cache = BinaryCache()
    options = assets.options(cache, print)
    write_wheel(options.wheels, "racetrack-test-greeting", "1.0.0", GREETING)
    with tempfile.TemporaryDirectory(prefix="rt-bench-build-") as work_dir:
        work = Path(work_dir)
        cluster_options = ClusterOptions(real_node=options, crds=addons.crds_folder())
        with LocalCluster(cache.binaries(), work / "cluster", cluster_options) as cluster:
            addons.start_operator(cluster)
            bench = Bench(cluster, work)
            tree = work / "greeter"
            tree.mkdir()
            for path in (JOBS / "greeter").iterdir():
                (tree / path.name).write_bytes(path.read_bytes())
            # A requirements file of its own for this run: the first build installs it.
            (tree / "requirements.txt").write_text(
                f"racetrack-test-greeting==1.0.0  # bench {time.time_ns()}\n"
            )
            bench.git(tree, "init", "-q", "-b", "main")
            bench.push(tree, "greeter")
            git = {"git": {"remote": f"{bench.real.git_url}/greeter.git"}}

            first = built_run(bench, "greeter-v0-0-1", "0.0.1", git)
            show("First build (requirements installed by pip, builder image pulled):", [first])

            warm, baseline = [], []
            for run in range(args.runs):
                warm.append(built_run(bench, f"greeter-v1-0-{run}", f"1.0.{run}", git))
                image = bench.job(f"greeter-v1-0-{run}")["status"]["build"]["image"]
                baseline.append(prebuilt_run(bench, f"prebuilt-v1-0-{run}", f"1.0.{run}", image))
            show(f"Warm build, apply to Ready, median of {args.runs}:", warm)
            print(
                "\nBaseline, the same image prebuilt (spec.image), apply to Ready, "
                f"median of {args.runs}:"
            )
            print(f"  {'total':<14} {spread(baseline)}")
            ratio = statistics.median(r["total"] for r in warm) / statistics.median(baseline)
            print(f"  building costs {ratio:.1f}x the prebuilt Job's apply-to-Ready")

            name = "greeter-v1-0-0"
            before = bench.build_jobs(name)
            bench.apply(name, "1.0.0", git, {"racetrack.io/redeploy-at": "bench"})
            time.sleep(3)
            after = bench.build_jobs(name)
            print(
                f"\nNo-change re-apply (and a redeploy): builds before {len(before)}, "
                f"after {len(after)} -> {'rebuilt!' if after != before else 'nothing rebuilt'}"
            )

            old_image = bench.job(name)["status"]["build"]["image"]
            (tree / "entrypoint.py").write_text(
                (tree / "entrypoint.py").read_text().replace("greet(name)", "greet(name) + '!'")
            )
            bench.push(tree, "code only")
            bench.stale[name] = bench.job(name)["status"]["build"]["inputs"]
            changed = built_run(
                bench, name, "1.0.0", git, {"racetrack.io/rebuild-at": "code-change"}
            )
            show("Code-only change (new commit, rebuild-at), apply to Ready:", [changed])
            new_image = bench.job(name)["status"]["build"]["image"]
            same = bench.deps_layer(old_image) == bench.deps_layer(new_image)
            print(
                f"  requirements layer reused: {'yes' if same else 'NO'} "
                f"({bench.deps_layer(new_image)[:19]}...)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
