"""``racetrack portfolio`` on the real control plane: the table, filters, outputs, and
deleting (confirmed, all or nothing, refused during maintenance in the webhook's words)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from portfolio_helpers import (  # type: ignore[import-not-found]
    OperatorProcess,
    get_job,
    racetrack,
    two_versions,
    wait_purge,
)

from racetrack_devcluster.launcher import LocalCluster
from racetrack_devcluster.webhooks import client_kubeconfig

pytestmark = pytest.mark.cluster


def test_the_table_is_sorted_by_purge_score_and_filtered_per_column(
    cluster: LocalCluster, namespace: str, operator: OperatorProcess
) -> None:
    family, first, second = two_versions(cluster, namespace, "table")
    wait_purge(cluster, namespace, first, 1.0)
    wait_purge(cluster, namespace, second, 0.0)
    kubeconfig = cluster.kubeconfig
    shown = racetrack("portfolio", "-n", namespace, kubeconfig=kubeconfig)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("FAMILY")
    assert [line.split()[:3] for line in lines[1:]] == [
        [family, "1.0.0", "running"],
        [family, "2.0.0", "running"],
    ]
    assert "never called" in lines[1] and "It has 1 newer version." in lines[1]
    assert "racetrack-dev-admin" in lines[1]  # who deployed it, as the webhooks recorded
    assert "\033" not in shown.stdout  # not a terminal: no colour

    filtered = racetrack(
        "portfolio", "-n", namespace, "--filter", "purge>=1", "--filter", f"family={{{family[:4]}",
        "--filter", "last-called=[empty]", "-o", "json", kubeconfig=kubeconfig,
    )  # fmt: skip
    assert filtered.returncode == 0, filtered.stderr
    rows = json.loads(filtered.stdout)
    assert [(row["job"], row["purge"], row["last-called"]) for row in rows] == [(first, 1.0, None)]
    assert rows[0]["reasons"] == ["It has 1 newer version."]

    as_yaml = racetrack(
        "portfolio", "-n", namespace, "-f", "version=}.0.0 && !1.", "-o", "yaml",
        kubeconfig=kubeconfig,
    )  # fmt: skip
    assert [row["version"] for row in yaml.safe_load(as_yaml.stdout)] == ["2.0.0"]

    none = racetrack("portfolio", "-n", namespace, "-f", "status=error", kubeconfig=kubeconfig)
    assert (none.returncode, none.stdout) == (0, "No jobs match.\n")


def test_an_invalid_filter_is_refused_pointing_at_the_character(
    cluster: LocalCluster, namespace: str
) -> None:
    bad = racetrack(
        "portfolio", "-n", namespace, "-f", "purge>=20 ||", kubeconfig=cluster.kubeconfig
    )
    assert bad.returncode == 2
    lines = bad.stderr.splitlines()
    assert lines[0] == "racetrack portfolio: invalid filter: a term is missing: nothing after '||'"
    assert lines[1].strip() == "purge>=20 ||"
    assert lines[2].index("^") == lines[1].index("purge") + len("purge>=20 ||")
    unknown = racetrack(
        "portfolio", "-n", namespace, "-f", "owner=x", kubeconfig=cluster.kubeconfig
    )
    assert unknown.returncode == 2 and "unknown column 'owner'" in unknown.stderr


def test_delete_asks_first_and_deletes_what_the_filters_kept(
    cluster: LocalCluster, namespace: str, operator: OperatorProcess
) -> None:
    _, first, second = two_versions(cluster, namespace, "purged")
    wait_purge(cluster, namespace, first, 1.0)
    kubeconfig = cluster.kubeconfig
    unasked = racetrack(
        "portfolio", "-n", namespace, "-f", "purge>=1", "--delete", kubeconfig=kubeconfig
    )
    assert unasked.returncode == 2 and "add --yes" in unasked.stderr
    assert get_job(cluster, namespace, first) is not None

    deleted = racetrack(
        "portfolio", "-n", namespace, "-f", "purge>=1", "--delete", "--yes", kubeconfig=kubeconfig
    )
    assert deleted.returncode == 0, deleted.stderr
    assert f"job {namespace}/{first} deleted" in deleted.stderr
    assert get_job(cluster, namespace, first) is None
    assert get_job(cluster, namespace, second) is not None


def test_delete_during_maintenance_deletes_nothing_and_says_why(
    cluster: LocalCluster, namespace: str, operator: OperatorProcess
) -> None:
    _, first, second = two_versions(cluster, namespace, "guarded")
    kubeconfig = cluster.kubeconfig
    on = racetrack(
        "maintenance", "on", "--name", f"m-{namespace}", "-m", "Cluster upgrade until 14:00 UTC",
        kubeconfig=kubeconfig,
    )  # fmt: skip
    assert on.returncode == 0, on.stderr
    try:
        refused = racetrack(
            "portfolio", "-n", namespace, "--delete", "--yes", kubeconfig=kubeconfig
        )
        assert refused.returncode == 1
        assert "nothing was deleted" in refused.stderr
        assert "Racetrack is currently in maintenance mode" in refused.stderr
        assert "Cluster upgrade until 14:00 UTC" in refused.stderr
        assert get_job(cluster, namespace, first) is not None
        assert get_job(cluster, namespace, second) is not None
    finally:
        off = racetrack("maintenance", "off", kubeconfig=kubeconfig)
        assert off.returncode == 0, off.stderr
    deleted = racetrack("portfolio", "-n", namespace, "--delete", "--yes", kubeconfig=kubeconfig)
    assert deleted.returncode == 0, deleted.stderr
    assert (
        get_job(cluster, namespace, first) is None and get_job(cluster, namespace, second) is None
    )


def test_someone_rbac_does_not_let_list_jobs_is_told_so_and_nothing_more(
    cluster: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    stranger = client_kubeconfig(cluster, tmp_path / "stranger.kubeconfig", "stranger")
    refused = racetrack("portfolio", "-n", namespace, kubeconfig=stranger)
    assert refused.returncode == 1
    assert refused.stderr == (
        f"racetrack portfolio: you may not list the Jobs of namespace {namespace}\n"
    )
