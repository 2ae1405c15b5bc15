"""A single-node SLURM cluster for tests, started from Debian's packages in a temporary directory.

:class:`SlurmCluster` installs the packages (``install_slurm.sh``), writes ``slurm.conf`` and
``slurmdbd.conf`` into its own directory, and starts, each in the foreground under its own PID:

- ``munged``       authentication (its own key and socket),
- ``mariadbd``     the accounting database (its own data directory, loopback TCP on a free port),
- ``slurmdbd``     the accounting daemon (``sacct`` asks it how each task ended),
- ``slurmctld``    the controller,
- ``slurmd``       the one compute node ``localhost`` with this machine's CPUs and memory, in
  partition ``debug``.

Clients find the cluster through ``SLURM_CONF`` (:attr:`SlurmCluster.env`). :meth:`stop` ends
every daemon it started, by PID (SIGTERM, then SIGKILL), the latest first; nothing else is touched.

Run ``python tests/slurm/slurm_cluster.py`` to start one by hand, print its environment, and stop it on
Enter (a way to try the SLURM launcher on this machine).
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSTALL_SCRIPT = HERE / "install_slurm.sh"
SBIN = "/usr/sbin"
CLUSTER_NAME = "imsimtest"
PARTITION = "debug"
NODE = "localhost"
#: A small MariaDB: the accounting of a few jobs needs little (the defaults take 100 MB of disk).
DB_OPTIONS = ("--skip-log-bin", "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=8M")


class ClusterError(RuntimeError):
    """The cluster could not be installed or started (the message says which step and why)."""


def free_port() -> int:
    """A TCP port on the loopback interface that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def install_packages() -> float:
    """Install the Debian packages (``install_slurm.sh``); the seconds it took.

    Raises
    ------
    ClusterError
        If the packages cannot be installed (the script's message says why).
    """
    started = time.perf_counter()
    done = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise ClusterError(f"the SLURM test needs Debian's SLURM packages and could not install them: "
                           f"{(done.stderr or done.stdout).strip()[-1500:]}")
    return time.perf_counter() - started


def node_resources() -> tuple[int, int]:
    """``(CPUs, RealMemory [MB])`` of this machine as ``slurmd -C`` reports them."""
    done = subprocess.run([f"{SBIN}/slurmd", "-C"], capture_output=True, text=True, timeout=60)
    fields = dict(item.split("=", 1) for item in done.stdout.split() if "=" in item)
    try:
        return int(fields["CPUs"]), int(fields["RealMemory"])
    except (KeyError, ValueError):
        raise ClusterError(f"slurmd -C did not report CPUs and RealMemory: {done.stdout!r} {done.stderr!r}") from None


@dataclass
class Daemon:
    """A daemon started by the cluster: its name, process and log file."""

    name: str
    process: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            text = ["(no log)"]
        return f"--- {self.name} (pid {self.pid}, {self.log}):\n" + "\n".join(text)


@dataclass
class SlurmCluster:
    """A single-node SLURM cluster with accounting, in ``root`` (see the module docstring).

    Attributes
    ----------
    root : Path
        Directory holding the configuration, state, spool, logs and the database.
    daemons : list of Daemon
        What :meth:`start` started, in order.
    timings : dict of str to float
        Seconds taken by each start-up step.
    """

    root: Path
    daemons: list[Daemon] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.conf = self.root / "etc" / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket"
        self.ports = {name: free_port() for name in ("slurmctld", "slurmd", "slurmdbd", "mariadb")}

    # ------------------------------------------------------------------ environment
    @property
    def env(self) -> dict[str, str]:
        """The environment of a SLURM client of this cluster (``os.environ`` plus ``SLURM_CONF``)."""
        path = os.environ.get("PATH", "")
        if SBIN not in path.split(os.pathsep):
            path = f"{path}{os.pathsep}{SBIN}"
        return {**os.environ, "SLURM_CONF": str(self.conf), "PATH": path}

    def run(self, *command: str, timeout: float = 60, check: bool = False) -> subprocess.CompletedProcess:
        """Run a client command (``sinfo``, ``squeue``, ``scancel``...) against this cluster."""
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, env=self.env)
        if check and done.returncode != 0:
            raise ClusterError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}\n"
                               + self.logs())
        return done

    def logs(self, lines: int = 15) -> str:
        """The last lines of every daemon's log (for a failure message)."""
        return "\n".join(daemon.tail(lines) for daemon in self.daemons)

    # ------------------------------------------------------------------ start
    def _spawn(self, name: str, command: list[str], log: Path) -> Daemon:
        handle = open(self.root / "log" / f"{name}.out", "ab")
        try:
            process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=self.env, start_new_session=True)
        finally:
            handle.close()
        daemon = Daemon(name, process, log)
        self.daemons.append(daemon)
        return daemon

    def _wait(self, what: str, ready, timeout: float, daemon: Daemon | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if daemon is not None and daemon.process.poll() is not None:
                raise ClusterError(f"{daemon.name} exited with status {daemon.process.returncode} "
                                   f"while starting\n" + daemon.tail(30)
                                   + "\n" + (self.root / "log" / f"{daemon.name}.out").read_text(errors="replace")[-2000:])
            if ready():
                return
            time.sleep(0.2)
        raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}\n" + self.logs(30))

    def start(self) -> "SlurmCluster":
        """Install the packages, write the configuration and start every daemon; wait until the
        node is idle and accounting answers."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.timings["install_s"] = install_packages()
        started = time.perf_counter()
        for sub in ("etc", "log", "munge", "state", "spool", "db", "run"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        self._start_munge()
        self._start_mariadb()
        self._write_config()
        self._start_slurm()
        self.timings["start_s"] = time.perf_counter() - started

    def _start_munge(self) -> None:
        key = self.root / "munge" / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        os.chmod(key, 0o600)
        os.chmod(self.root / "munge", 0o700)
        log = self.root / "log" / "munged.log"
        daemon = self._spawn("munged", [
            f"{SBIN}/munged", "--foreground", "--force", f"--socket={self.munge_socket}",
            f"--key-file={key}", f"--pid-file={self.root / 'run' / 'munged.pid'}",
            f"--log-file={log}", f"--seed-file={self.root / 'munge' / 'munged.seed'}"], log)
        self._wait("munged's socket", self.munge_socket.exists, 30, daemon)

    def _start_mariadb(self) -> None:
        data = self.root / "db" / "data"
        log = self.root / "log" / "mariadb.log"
        started = time.perf_counter()
        done = subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
             "--auth-root-authentication-method=socket", "--skip-test-db", *DB_OPTIONS],
            capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise ClusterError(f"mariadb-install-db failed: {(done.stderr or done.stdout)[-1500:]}")
        self.timings["mariadb_install_db_s"] = time.perf_counter() - started
        self.db_socket = self.root / "db" / "mariadb.sock"
        daemon = self._spawn("mariadbd", [
            f"{SBIN}/mariadbd", "--no-defaults", f"--datadir={data}", "--user=root",
            f"--socket={self.db_socket}", f"--port={self.ports['mariadb']}", "--bind-address=127.0.0.1",
            f"--pid-file={self.root / 'run' / 'mariadbd.pid'}", f"--log-error={log}",
            "--skip-name-resolve", *DB_OPTIONS], log)
        self._wait("MariaDB", lambda: self._sql("SELECT 1").returncode == 0, 60, daemon)
        self.db_password = secrets.token_hex(12)
        created = self._sql(
            f"CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '{self.db_password}'; "
            f"GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1'; FLUSH PRIVILEGES;")
        if created.returncode != 0:
            raise ClusterError(f"could not create the accounting database user: {created.stderr}")

    def _sql(self, statement: str) -> subprocess.CompletedProcess:
        return subprocess.run(["mariadb", "--no-defaults", f"--socket={self.db_socket}", "-uroot",
                               "-e", statement], capture_output=True, text=True, timeout=30)

    def _write_config(self) -> None:
        cpus, memory_mb = node_resources()
        self.cpus, self.memory_mb = cpus, memory_mb
        log, run = self.root / "log", self.root / "run"
        auth = f"AuthType=auth/munge\nAuthInfo=socket={self.munge_socket}\n"
        self.conf.write_text(
            f"ClusterName={CLUSTER_NAME}\n"
            f"SlurmctldHost={NODE}\n"
            f"SlurmUser=root\nSlurmdUser=root\n"
            f"SlurmctldPort={self.ports['slurmctld']}\nSlurmdPort={self.ports['slurmd']}\n"
            f"{auth}"
            f"StateSaveLocation={self.root / 'state'}\nSlurmdSpoolDir={self.root / 'spool'}\n"
            f"SlurmctldPidFile={run / 'slurmctld.pid'}\nSlurmdPidFile={run / 'slurmd.pid'}\n"
            f"SlurmctldLogFile={log / 'slurmctld.log'}\nSlurmdLogFile={log / 'slurmd.log'}\n"
            f"SlurmctldDebug=info\nSlurmdDebug=info\n"
            "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
            "JobAcctGatherType=jobacct_gather/none\n"
            "SchedulerType=sched/backfill\nSelectType=select/cons_tres\n"
            "SelectTypeParameters=CR_CPU_Memory\n"
            "SlurmdParameters=config_overrides\n"
            "MpiDefault=none\nReturnToService=2\nMailProg=/bin/true\n"
            # a cancelled task gets SIGTERM, then SIGKILL KillWait seconds later
            "KillWait=5\nInactiveLimit=0\nMinJobAge=300\n"
            "AccountingStorageType=accounting_storage/slurmdbd\n"
            f"AccountingStorageHost={NODE}\nAccountingStoragePort={self.ports['slurmdbd']}\n"
            # for slurmdbd, AccountingStoragePass names the munge socket (AuthInfo does not reach it)
            f"AccountingStoragePass={self.munge_socket}\n"
            "JobCompType=jobcomp/none\n"
            f"NodeName={NODE} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN\n"
            f"PartitionName={PARTITION} Nodes={NODE} Default=YES MaxTime=INFINITE State=UP\n")
        dbd = self.conf.with_name("slurmdbd.conf")
        dbd.write_text(
            f"{auth}DbdHost={NODE}\nDbdPort={self.ports['slurmdbd']}\nSlurmUser=root\n"
            f"LogFile={log / 'slurmdbd.log'}\nPidFile={run / 'slurmdbd.pid'}\nDebugLevel=info\n"
            "StorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\n"
            f"StoragePort={self.ports['mariadb']}\nStorageUser=slurm\nStoragePass={self.db_password}\n"
            "StorageLoc=slurm_acct_db\n")
        os.chmod(dbd, 0o600)  # slurmdbd refuses a config others can read (it holds the password)

    def _start_slurm(self) -> None:
        daemon = self._spawn("slurmdbd", [f"{SBIN}/slurmdbd", "-D"], self.root / "log" / "slurmdbd.log")
        self._wait("slurmdbd", lambda: self.run("sacctmgr", "-n", "list", "cluster").returncode == 0,
                   60, daemon)
        daemon = self._spawn("slurmctld", [f"{SBIN}/slurmctld", "-D", "-i"], self.root / "log" / "slurmctld.log")
        self._wait("slurmctld", lambda: self.run("scontrol", "ping").returncode == 0, 60, daemon)
        daemon = self._spawn("slurmd", [f"{SBIN}/slurmd", "-D", "-N", NODE], self.root / "log" / "slurmd.log")
        self._wait(f"node {NODE} idle in partition {PARTITION}", lambda: self.run(
            "sinfo", "-h", "-p", PARTITION, "-N", "-o", "%t").stdout.strip() == "idle", 60, daemon)
        self._wait("the cluster in the accounting database", lambda: CLUSTER_NAME in self.run(
            "sacctmgr", "-n", "-P", "list", "cluster", "format=cluster").stdout, 60)

    # ------------------------------------------------------------------ stop
    def cancel_jobs(self, timeout: float = 30) -> None:
        """Cancel the jobs left on this cluster and wait until its queue is empty."""
        if not any(d.name == "slurmctld" and d.process.poll() is None for d in self.daemons):
            return
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            jobs = self.run("squeue", "-h", "-o", "%A", timeout=10).stdout.split()
            if jobs:
                self.run("scancel", *sorted(set(jobs)), timeout=10)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.run("squeue", "-h", timeout=10).stdout.strip():
                time.sleep(0.5)

    def stop(self, timeout: float = 15) -> None:
        """Cancel what is left in the queue, then end every daemon this cluster started, by PID, the
        latest first (SIGTERM, then SIGKILL)."""
        self.cancel_jobs()
        for daemon in reversed(self.daemons):
            if daemon.process.poll() is not None:
                continue
            try:
                daemon.process.send_signal(signal.SIGTERM)
                daemon.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                daemon.process.kill()
                daemon.process.wait(timeout=timeout)
            except ProcessLookupError:
                pass

    def remove_database(self) -> None:
        """Delete the database files (after :meth:`stop`; the logs and configuration stay)."""
        if all(daemon.process.poll() is not None for daemon in self.daemons):
            shutil.rmtree(self.root / "db", ignore_errors=True)

    def __enter__(self) -> "SlurmCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="imsim-slurm-"))
    cluster = SlurmCluster(root)
    with cluster:
        print(f"cluster in {root} ({cluster.timings}); in another shell:\n"
              f"  export SLURM_CONF={cluster.conf}\n  sinfo; python sim.py -m hydra/launcher=slurm "
              f"hydra.launcher.partition={PARTITION} ...\nEnter stops every daemon.", flush=True)
        input()
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
