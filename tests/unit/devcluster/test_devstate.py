"""The dev cluster's files: what a stopped cluster keeps, and what `dev status` reads."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from racetrack_devcluster import clusterdata, devstate
from racetrack_devcluster.cli import status_table
from racetrack_devcluster.healing import ComponentStatus
from racetrack_devcluster.processes import PortAllocator, port_is_free


def test_a_saved_cluster_round_trips_and_a_missing_one_is_none(tmp_path: Path) -> None:
    assert clusterdata.load(tmp_path / "data") is None
    saved = clusterdata.SavedCluster({"kube-apiserver": 24510, "etcd": 24511}, "ab12cd")
    saved.save(tmp_path / "data")
    assert clusterdata.load(tmp_path / "data") == saved


def test_discard_removes_a_stopped_clusters_data_and_kubeconfig(tmp_path: Path) -> None:
    clusterdata.SavedCluster({"etcd": 1}).save(tmp_path / "data")
    (tmp_path / "data" / "etcd").mkdir()
    (tmp_path / "kubeconfig").write_text("x")
    (tmp_path / "logs").mkdir()
    clusterdata.discard(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs"]  # logs stay for post-mortems


def test_a_stopped_cluster_is_one_with_data_and_no_supervisor(tmp_path: Path) -> None:
    assert devstate.stopped_cluster(tmp_path) is None
    options = devstate.UpOptions(nodes="real", with_operator=False, apiserver_args=("--v=4",))
    devstate.write_options(tmp_path, options)
    assert devstate.stopped_cluster(tmp_path) is None  # options alone are no cluster
    clusterdata.SavedCluster({"etcd": 1}).save(tmp_path / "data")
    assert devstate.stopped_cluster(tmp_path) == options
    assert devstate.read_options(tmp_path) == options


def test_status_never_lags_behind_a_process_that_exited(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    statuses = [
        ComponentStatus("etcd", os.getpid(), "running"),
        ComponentStatus("kube-apiserver", gone.pid, "running", restarts=2),
    ]
    devstate.write_components(tmp_path, statuses)
    read = {status.name: status for status in devstate.read_components(tmp_path)}
    assert read["etcd"].up
    assert not read["kube-apiserver"].up and read["kube-apiserver"].state == "exited"


def test_the_status_table_shows_restarts_and_how_each_component_last_exited() -> None:
    statuses = [
        ComponentStatus("etcd", 101, "running"),
        ComponentStatus("kube-apiserver", 202, "running", 1, "137 (SIGKILL)", last_exit_at=1000.0),
        ComponentStatus(
            "kube-scheduler", 303, "restarting", 4, "1", 1090.0, waiting_for="back-off 8 s"
        ),
    ]
    lines = status_table(statuses, now=1100.0).splitlines()
    assert lines[0].split() == ["COMPONENT", "PID", "STATE", "RESTARTS", "LAST", "EXIT"]
    assert lines[1].split() == ["etcd", "101", "running", "0"]
    assert lines[2].split() == [
        "kube-apiserver",
        "202",
        "running",
        "1",
        "137",
        "(SIGKILL),",
        "100s",
        "ago",
    ]
    assert "RESTARTING" in lines[3] and "- " in lines[3]
    assert lines[3].endswith("1, 10s ago (waiting: back-off 8 s)")


def test_a_resumed_cluster_gets_its_old_port_back_when_it_is_free() -> None:
    allocator = PortAllocator()
    port = allocator.claim("kube-apiserver")
    assert PortAllocator().reclaim("kube-apiserver", port) == port
    assert port_is_free(port)
    taken = PortAllocator(taken={port})
    assert taken.reclaim("kube-apiserver", port) != port


def test_a_port_whose_server_just_stopped_is_free_again() -> None:
    # Connections a stopped component closed linger in TIME_WAIT on its port; every server
    # we run binds with SO_REUSEADDR and gets the port, so a resumed cluster must too.
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Go's listeners do
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its end goes to TIME_WAIT
        client.close()
    assert port_is_free(port)
